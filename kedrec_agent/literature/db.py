"""Connections (a psycopg 3 pool with the pgvector adapter) and the schema, migrated by code.

Every statement binds its values server-side; no text is ever formatted into SQL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from kedrec_agent.config import Settings
from kedrec_agent.errors import StoreUnavailableError
from kedrec_agent.literature.server import describe, server_dsn

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
EMBEDDING_DIM = 384
# HNSW graph quality: ef_construction 200 (pgvector's default is 64) lifts recall@10 on
# 100k synthetic vectors from 0.77 (default 64, ef_search 100) to 0.99 (bench/literature.py).
HNSW_OPTIONS = "WITH (m = 16, ef_construction = 200)"

# Each migration takes the schema from version i to i + 1. Only constants here.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE EXTENSION IF NOT EXISTS vector",
        """CREATE TABLE passages (
            id bigserial PRIMARY KEY,
            source text NOT NULL CHECK (source IN ('pubmed', 'ctgov', 'user')),
            external_id text NOT NULL,
            chunk integer NOT NULL,
            title text NOT NULL DEFAULT '',
            body text NOT NULL,
            metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
            year integer,
            embedding vector(384) NOT NULL,
            tsv tsvector GENERATED ALWAYS AS
                (to_tsvector('english', title || ' ' || body)) STORED,
            UNIQUE (source, external_id, chunk)
        )""",
        """CREATE TABLE documents (
            source text NOT NULL,
            external_id text NOT NULL,
            chunks integer NOT NULL,
            ingested_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (source, external_id)
        )""",
        "CREATE INDEX passages_tsv ON passages USING gin (tsv)",
        "CREATE INDEX passages_metadata ON passages USING gin (metadata jsonb_path_ops)",
        "CREATE INDEX passages_year ON passages (year)",
        "CREATE INDEX passages_embedding ON passages USING hnsw (embedding vector_cosine_ops)",
    ),
    (
        # Entities the linker found in each passage (DrugBank ids, MeSH disease ids); NULL
        # until annotated, so passages stored before this version are annotated afterwards.
        "ALTER TABLE passages ADD COLUMN drugs text[], ADD COLUMN diseases text[]",
        "DROP INDEX passages_embedding",
        "SET LOCAL maintenance_work_mem = '1GB'",
        "CREATE INDEX passages_embedding ON passages "
        f"USING hnsw (embedding vector_cosine_ops) {HNSW_OPTIONS}",
        "CREATE INDEX passages_drugs ON passages USING gin (drugs)",
        "CREATE INDEX passages_diseases ON passages USING gin (diseases)",
        # Document frequency and BM25 idf of every lexeme, refreshed after each ingest:
        # full-text search weighs query terms by rarity and looks up the rarest first.
        """CREATE TABLE lexeme_stats (
            word text PRIMARY KEY,
            ndoc integer NOT NULL,
            idf real NOT NULL
        )""",
    ),
)


def _unavailable(dsn: str, exc: Exception) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"Postgres at {describe(dsn)} is not reachable ({str(exc).strip().splitlines()[0]}). "
        "Check KEDREC_PG_DSN (or unset it to use the embedded server) and that the server runs."
    )


def migrate(dsn: str) -> int:
    """Create or upgrade the schema; returns the version now in place."""
    try:
        with psycopg.connect(dsn, autocommit=False, connect_timeout=10) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS kedrec_schema (version integer NOT NULL)")
            conn.execute("LOCK TABLE kedrec_schema IN EXCLUSIVE MODE")
            row = conn.execute("SELECT max(version) FROM kedrec_schema").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)  # constant DDL from this module
                conn.execute("INSERT INTO kedrec_schema (version) VALUES (%s)", (version + 1,))
                log.info("literature schema migrated to version %d", version + 1)
            conn.commit()
            return max(current, SCHEMA_VERSION)
    except psycopg.OperationalError as exc:
        raise _unavailable(dsn, exc) from exc


class Database:
    """A connection pool on the literature store, schema ensured on open.

    Example:
        >>> with Database.open(get_settings()).connection() as conn:  # doctest: +SKIP
        ...     conn.execute("SELECT count(*) FROM passages").fetchone()
    """

    def __init__(self, dsn: str, max_size: int = 4) -> None:
        self.dsn = dsn
        migrate(dsn)
        self.pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            configure=register_vector,
            kwargs={"connect_timeout": 10},
            open=False,
            timeout=15,
        )
        try:
            self.pool.open(wait=True, timeout=15)
        except PoolTimeout as exc:
            raise _unavailable(dsn, exc) from exc

    @classmethod
    def open(cls, settings: Settings) -> Database:
        """The process-wide database of ``settings`` (server started, schema migrated)."""
        dsn = server_dsn(settings)
        with _LOCK:
            if dsn not in _DATABASES:
                _DATABASES[dsn] = cls(dsn)
            return _DATABASES[dsn]

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """A pooled connection; connection failures become :class:`StoreUnavailableError`."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise _unavailable(self.dsn, exc) from exc

    def refresh_statistics(self) -> None:
        """Recount the lexeme statistics full-text search weighs terms by; ANALYZE passages.

        Runs at the end of every ingest (0.3 s for 16k passages); a search in between sees
        the old counts, never a partial table (one transaction).
        """
        with self.connection() as conn:
            with conn.transaction():
                conn.execute("TRUNCATE lexeme_stats")
                conn.execute(
                    "INSERT INTO lexeme_stats (word, ndoc, idf) "
                    "SELECT word, ndoc, ln(1 + (n - ndoc + 0.5) / (ndoc + 0.5)) "
                    "FROM ts_stat('SELECT tsv FROM passages'), "
                    "(SELECT count(*) AS n FROM passages) AS total"
                )
            conn.execute("ANALYZE passages")
            conn.execute("ANALYZE lexeme_stats")

    def close(self) -> None:
        """Close the pool (the embedded server stops when its last user process exits)."""
        self.pool.close()
        with _LOCK:
            _DATABASES.pop(self.dsn, None)


_LOCK = threading.Lock()
_DATABASES: dict[str, Database] = {}
