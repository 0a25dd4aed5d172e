"""Connections (a psycopg 3 pool with the pgvector adapter) and the schema, migrated by code.

Every statement binds its values server-side; no text is ever formatted into SQL.

Two kinds of pool: the writer (ingest, migrations, statistics) and the reader that searches
use. Readers cannot write by construction: on the embedded server they log in as the
``kedrec_reader`` role (SELECT on the literature tables only, no CREATE or TEMP), created
idempotently whenever the writer opens the store; on a ``KEDREC_PG_DSN`` server they use
``KEDREC_PG_READ_DSN`` if given. Every reader connection also runs with
``default_transaction_read_only=on`` and a ``statement_timeout``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg.conninfo
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from kedrec_agent.config import Settings
from kedrec_agent.errors import StoreNotBuiltError, StoreUnavailableError
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


READER_ROLE = "kedrec_reader"
# The only tables a reader may SELECT from (not the checkpoint tables: they hold patient text).
READER_TABLES = ("passages", "documents", "lexeme_stats", "kedrec_schema")
# A reader that leaves a transaction open is cut off after this long (milliseconds).
IDLE_IN_TRANSACTION_MS = 60_000


def _unavailable(dsn: str, exc: Exception) -> StoreUnavailableError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.DiskFull):
        return StoreUnavailableError(
            f"Postgres at {describe(dsn)} is out of disk space ({first}). The batch in "
            "flight was rolled back; free space and run the ingest again (it resumes)."
        )
    return StoreUnavailableError(
        f"Postgres at {describe(dsn)} is not reachable ({first}). "
        "Check KEDREC_PG_DSN (or unset it to use the embedded server) and that the server runs."
    )


def read_only_conninfo(dsn: str, statement_timeout_s: float) -> str:
    """``dsn`` with read-only transactions and a statement timeout forced by its options."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    forced = (
        f"-c default_transaction_read_only=on "
        f"-c statement_timeout={max(1, round(statement_timeout_s * 1000))} "
        f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    )
    options = f"{params.get('options') or ''} {forced}".strip()
    return psycopg.conninfo.make_conninfo(dsn, options=options)


def ensure_reader_role(dsn: str) -> None:
    """Create (or re-grant) the SELECT-only ``kedrec_reader`` role; idempotent.

    For the embedded server only (a user's server may not let its user create roles).
    Also takes CREATE and TEMP on the database and CREATE on schema ``public`` away from
    PUBLIC, so that the reader cannot create anything; the writer is a superuser.

    Args:
        dsn: a superuser connection string to the server (the embedded server's URI).
    """
    role = sql.Identifier(READER_ROLE)
    try:
        with psycopg.connect(dsn, autocommit=False, connect_timeout=10) as conn:
            # Roles are cluster-wide: serialise concurrent set-ups (two processes starting).
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (READER_ROLE,))
            known = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,))
            if known.fetchone() is None:
                conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                    ).format(role)
                )
            conn.execute(
                sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role)
            )
            row = conn.execute("SELECT current_database()").fetchone()
            database = sql.Identifier(str(row[0]) if row else "postgres")
            conn.execute(
                sql.SQL("REVOKE CREATE, TEMPORARY ON DATABASE {} FROM PUBLIC").format(database)
            )
            conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            tables = sql.SQL(", ").join(map(sql.Identifier, READER_TABLES))
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(tables, role))
            conn.commit()
    except psycopg.OperationalError as exc:
        raise _unavailable(dsn, exc) from exc


def migrate(dsn: str) -> int:
    """Create or upgrade the schema; returns the version now in place."""
    try:
        with psycopg.connect(dsn, autocommit=False, connect_timeout=10) as conn:
            # Two processes migrating a fresh server at once: CREATE TABLE IF NOT EXISTS is
            # not safe against a concurrent creation, so serialise on an advisory lock first.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('kedrec_schema'))")
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


def schema_version(conninfo: str) -> int:
    """The schema version of the store behind ``conninfo`` (0 when there is none)."""
    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            if conn.execute("SELECT to_regclass('kedrec_schema')").fetchone() in (None, (None,)):
                return 0
            row = conn.execute("SELECT max(version) FROM kedrec_schema").fetchone()
            return int(row[0]) if row and row[0] is not None else 0
    except psycopg.OperationalError as exc:
        raise _unavailable(conninfo, exc) from exc


class Database:
    """A connection pool on the literature store, schema ensured on open.

    Args:
        dsn: the server's connection string.
        max_size: most connections in the pool.
        read_only: a reader pool: no migration (the schema must be current), every
            connection with read-only transactions and ``statement_timeout_s``.
        statement_timeout_s: time limit of one statement on a reader connection.
        pool_timeout_s: how long to wait for a connection (the server being down waits
            this long before the error); readers default to the statement timeout + 1 s.

    Example:
        >>> with Database.open(get_settings()).connection() as conn:  # doctest: +SKIP
        ...     conn.execute("SELECT count(*) FROM passages").fetchone()
    """

    def __init__(
        self,
        dsn: str,
        max_size: int = 4,
        *,
        read_only: bool = False,
        statement_timeout_s: float = 5.0,
        pool_timeout_s: float | None = None,
    ) -> None:
        self.dsn = dsn
        self.read_only = read_only
        self.statement_timeout_s = statement_timeout_s
        self._key: tuple[str, bool] = (dsn, read_only)
        conninfo = dsn
        if pool_timeout_s is None:
            pool_timeout_s = statement_timeout_s + 1 if read_only else 15.0
        if read_only:
            conninfo = read_only_conninfo(dsn, statement_timeout_s)
            found = schema_version(conninfo)
            if found != SCHEMA_VERSION:
                raise StoreNotBuiltError(
                    f"The literature store at {describe(dsn)} has schema version {found}, "
                    f"this version searches version {SCHEMA_VERSION}. Run `kedrec setup` "
                    "(or `kedrec lit ingest`) with write access to create or upgrade it."
                )
        else:
            migrate(dsn)
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            configure=register_vector,
            check=ConnectionPool.check_connection,  # a server restart costs no failed query
            kwargs={"connect_timeout": 10},
            open=False,
            timeout=pool_timeout_s,
        )
        try:
            self.pool.open(wait=True, timeout=15)
        except PoolTimeout as exc:
            raise _unavailable(dsn, exc) from exc

    @classmethod
    def open(cls, settings: Settings, *, read_only: bool = False) -> Database:
        """The process-wide database of ``settings`` (server started, schema migrated).

        Args:
            settings: which server (embedded or ``KEDREC_PG_DSN``).
            read_only: the searches' pool: the ``kedrec_reader`` role on the embedded
                server, ``KEDREC_PG_READ_DSN`` (else ``KEDREC_PG_DSN``) otherwise; always
                read-only transactions with a statement timeout.

        Raises:
            StoreUnavailableError: the server cannot be reached or started.
            StoreNotBuiltError: (read_only) the schema is missing or out of date on a
                ``KEDREC_PG_DSN`` server.
        """
        admin = server_dsn(settings)
        embedded = settings.pg_dsn is None
        dsn = admin
        if read_only:
            reader = psycopg.conninfo.make_conninfo(admin, user=READER_ROLE)
            dsn = reader if embedded else settings.pg_read_dsn or admin
        key = (dsn, read_only)
        with _LOCK:
            if key not in _DATABASES:
                if read_only:
                    if embedded:  # our own server: set it up as the writer would
                        migrate(admin)
                        ensure_reader_role(admin)
                    database = cls(
                        dsn, read_only=True, statement_timeout_s=settings.pg_statement_timeout_s
                    )
                else:
                    database = cls(admin)
                    if embedded:
                        ensure_reader_role(admin)
                _DATABASES[key] = database
            return _DATABASES[key]

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """A pooled connection; server failures become :class:`StoreUnavailableError`.

        A statement cut off by ``statement_timeout`` is a :class:`StoreUnavailableError`
        that says so; a full disk is named as such.
        """
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.errors.QueryCanceled as exc:
            raise StoreUnavailableError(
                f"The literature store at {describe(self.dsn)} did not answer within "
                f"{self.statement_timeout_s:g} s (statement timeout; KEDREC_PG_STATEMENT_TIMEOUT)."
            ) from exc
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
            if _DATABASES.get(self._key) is self:
                del _DATABASES[self._key]


_LOCK = threading.Lock()
_DATABASES: dict[tuple[str, bool], Database] = {}
