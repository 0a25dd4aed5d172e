"""Hybrid literature search: pgvector HNSW + Postgres full text, fused by reciprocal rank.

Example:
    >>> search = LiteratureSearch.from_settings()  # doctest: +SKIP
    >>> hits = search.search("imatinib chronic myeloid leukemia")  # doctest: +SKIP
    >>> hits[0].citation  # doctest: +SKIP
    'PMID:12345678'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from psycopg import sql
from pydantic import BaseModel, Field

from kedrec_agent.config import Settings, get_settings
from kedrec_agent.errors import InvalidInputError
from kedrec_agent.literature.db import Database
from kedrec_agent.literature.embeddings import Embedder

MAX_QUERY_CHARS = 2_000
RRF_K = 60  # the usual reciprocal-rank-fusion constant
Mode = Literal["hybrid", "dense", "text"]
SOURCES = ("pubmed", "ctgov", "user")


class Filters(BaseModel):
    """Restrictions on the passages searched."""

    sources: list[Literal["pubmed", "ctgov", "user"]] | None = None
    mesh: list[str] | None = Field(
        default=None, description="MeSH ids (D015464) the passage must be annotated with (any)"
    )
    year_from: int | None = Field(default=None, ge=1800, le=2100)
    year_to: int | None = Field(default=None, ge=1800, le=2100)


class Hit(BaseModel):
    """One retrieved passage, with its citation and why it matched."""

    source: str
    external_id: str
    chunk: int
    title: str
    snippet: str
    score: float
    why: list[str]
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def citation(self) -> str:
        """``PMID:…`` or ``NCT…`` (the id an answer cites)."""
        return f"PMID:{self.external_id}" if self.source == "pubmed" else self.external_id


def _where(filters: Filters) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = [sql.SQL("TRUE")]
    params: dict[str, Any] = {}
    if filters.sources:
        clauses.append(sql.SQL("source = ANY(%(sources)s)"))
        params["sources"] = list(filters.sources)
    if filters.mesh:
        clauses.append(sql.SQL("(metadata -> 'mesh') ?| %(mesh)s"))
        params["mesh"] = [m.removeprefix("MESH:") for m in filters.mesh]
    if filters.year_from is not None:
        clauses.append(sql.SQL("year >= %(year_from)s"))
        params["year_from"] = filters.year_from
    if filters.year_to is not None:
        clauses.append(sql.SQL("year <= %(year_to)s"))
        params["year_to"] = filters.year_to
    return sql.SQL(" AND ").join(clauses), params


_DENSE = sql.SQL(
    "SELECT id, row_number() OVER (ORDER BY embedding <=> %(vector)s) AS rank "
    "FROM (SELECT id, embedding FROM passages WHERE {where} "
    "ORDER BY embedding <=> %(vector)s LIMIT %(pool)s) AS nearest"
)
# Any query term may match (OR); ts_rank_cd ranks passages with more and closer terms first.
_TEXT = sql.SQL(
    "SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank FROM ("
    "SELECT id, ts_rank_cd(tsv, query) AS score "
    "FROM passages, (SELECT replace(plainto_tsquery('english', %(text)s)::text, '&', '|')"
    "::tsquery AS query) AS q "
    "WHERE tsv @@ query AND {where} ORDER BY score DESC, id LIMIT %(pool)s) AS matched"
)
_FUSED = sql.SQL(
    "WITH dense AS ({dense}), text AS ({text}) "
    "SELECT p.source, p.external_id, p.chunk, p.title, p.body, p.metadata, "
    "dense.rank, text.rank, "
    "coalesce(1.0 / (%(k)s + dense.rank), 0) + coalesce(1.0 / (%(k)s + text.rank), 0) AS score, "
    "CASE WHEN text.rank IS NOT NULL THEN ts_headline('english', p.body, "
    "replace(plainto_tsquery('english', %(text)s)::text, '&', '|')::tsquery, "
    "'MaxWords=40, MinWords=15') END AS headline "
    "FROM passages p "
    "LEFT JOIN dense ON dense.id = p.id LEFT JOIN text ON text.id = p.id "
    "WHERE dense.id IS NOT NULL OR text.id IS NOT NULL "
    "ORDER BY score DESC, p.id LIMIT %(limit)s"
)


@dataclass
class LiteratureSearch:
    """Search over the passages table.

    Args:
        db: the literature database.
        embedder: the query embedder (same model as the stored passages).
    """

    db: Database
    embedder: Embedder

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> LiteratureSearch:
        """Open the configured store and load the embedding model (once per process)."""
        settings = settings or get_settings()
        return cls(Database.open(settings), Embedder.from_settings(settings))

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: Mode = "hybrid",
        query_vector: np.ndarray[Any, np.dtype[np.float32]] | None = None,
    ) -> list[Hit]:
        """The ``k`` best passages for ``query`` (hybrid, dense-only or full-text-only).

        Raises:
            InvalidInputError: empty or over-long query, k out of range, unknown mode.

        ``query_vector`` may carry a precomputed embedding of ``query`` (benchmarks).
            StoreUnavailableError: Postgres cannot be reached.
        """
        if not isinstance(query, str) or not query.strip():
            raise InvalidInputError("The search query is empty.")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidInputError(
                f"The search query is too long ({len(query):,} > {MAX_QUERY_CHARS:,} characters)."
            )
        if not 1 <= k <= 100:
            raise InvalidInputError("k must be between 1 and 100")
        if mode not in ("hybrid", "dense", "text"):
            raise InvalidInputError(f"Unknown search mode {mode!r}: use hybrid, dense or text.")
        where, params = _where(filters or Filters())
        filtered = bool(params)  # any filter binds a parameter
        pool = max(50, 5 * k)
        never = sql.SQL("SELECT NULL::bigint AS id, NULL::bigint AS rank WHERE FALSE")
        dense = _DENSE.format(where=where) if mode != "text" else never
        text = _TEXT.format(where=where) if mode != "dense" else never
        params |= {"text": query, "pool": pool, "k": RRF_K, "limit": 3 * k}
        if mode != "text" and query_vector is None:
            query_vector = self.embedder.embed([query])[0]
        params["vector"] = query_vector
        statement = _FUSED.format(dense=dense, text=text)
        with self.db.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL hnsw.ef_search = 100")
            if filtered:
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = conn.execute(statement, params).fetchall()
        best: dict[tuple[str, str], Hit] = {}
        for row in rows:  # one hit per document: its best passage
            hit = _hit(row)
            best.setdefault((hit.source, hit.external_id), hit)
        return list(best.values())[:k]

    def search_pair(self, drug: str, disease: str, k: int = 5) -> list[Hit]:
        """Passages about a (drug, disease) pair, as the agent asks for them."""
        return self.search(f"{drug} {disease}", k=k)


def _hit(row: Sequence[Any]) -> Hit:
    source, external_id, chunk, title, body, metadata, dense_rank, text_rank, score, headline = row
    why = []
    if dense_rank is not None:
        why.append(f"semantic similarity (rank {dense_rank})")
    if text_rank is not None:
        why.append(f"keyword match (rank {text_rank})")
    snippet = headline.replace("<b>", "").replace("</b>", "") if headline else body[:300]
    return Hit(
        source=source,
        external_id=external_id,
        chunk=chunk,
        title=title,
        snippet=snippet,
        score=round(float(score), 5),
        why=why,
        metadata=metadata,
    )
