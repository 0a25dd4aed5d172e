"""Ingest documents into the passages table: chunk, embed in batches, COPY, commit per batch.

Resumable and idempotent: a document is recorded in ``documents`` in the same transaction as
its passages, so an interrupted run loses at most the batch in flight, and a re-run skips
every document already stored and ends with exactly the same rows. The first file that
holds a given (source, id) wins.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from tqdm import tqdm

from kedrec_agent.config import Settings
from kedrec_agent.data import bundle
from kedrec_agent.errors import ConfigError
from kedrec_agent.literature.annotate import Annotator, annotate_missing
from kedrec_agent.literature.chunking import chunk_text
from kedrec_agent.literature.db import EMBEDDING_DIM, Database
from kedrec_agent.literature.embeddings import Embedder
from kedrec_agent.literature.readers import Document, Source, read_documents

log = logging.getLogger(__name__)

BATCH_DOCUMENTS = 64


@dataclass
class IngestReport:
    """Counts of one ingest run."""

    documents_read: int = 0
    documents_added: int = 0
    documents_skipped: int = 0
    passages_added: int = 0
    seconds: float = 0.0

    @property
    def passages_per_second(self) -> float:
        """Throughput of this run (embedding + insert)."""
        return self.passages_added / self.seconds if self.seconds else 0.0


def _batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(docs)
    while batch := list(islice(iterator, size)):
        yield batch


def _stored(db: Database, batch: Sequence[Document]) -> set[tuple[str, str]]:
    keys = [(d.source, d.external_id) for d in batch]
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT source, external_id FROM documents "
            "WHERE (source, external_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([k[0] for k in keys], [k[1] for k in keys]),
        ).fetchall()
    return {(str(r[0]), str(r[1])) for r in rows}


def _store(db: Database, docs: Sequence[Document], embedder: Embedder, annotator: Annotator) -> int:
    passages = [
        (doc, index, body)
        for doc in docs
        for index, body in enumerate(chunk_text(doc.text) or [doc.title])
        if body
    ]
    # The title gives each passage its context in the embedding (it is stored apart).
    texts = [f"{d.title}. {b}" if d.title else b for d, _, b in passages]
    vectors = embedder.embed(texts)
    entities = [annotator.annotate(text) for text in texts]
    with db.connection() as conn, conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE incoming (source text, external_id text, chunk integer, "
            "title text, body text, metadata jsonb, year integer, embedding vector, "
            "drugs text[], diseases text[]) "
            "ON COMMIT DROP"
        )
        with conn.cursor().copy(
            "COPY incoming (source, external_id, chunk, title, body, metadata, year, embedding, "
            "drugs, diseases) FROM STDIN"
        ) as copy:
            for (doc, index, body), vector, found in zip(passages, vectors, entities, strict=True):
                copy.write_row(
                    (doc.source, doc.external_id, index, doc.title, body,
                     json.dumps(doc.metadata), doc.year, vector, found.drugs, found.diseases)
                )  # fmt: skip
        inserted = conn.execute(
            "INSERT INTO passages (source, external_id, chunk, title, body, metadata, year, "
            "embedding, drugs, diseases) SELECT source, external_id, chunk, title, body, metadata, "
            "year, embedding::vector, drugs, diseases FROM incoming ON CONFLICT DO NOTHING"
        ).rowcount
        counts: dict[tuple[str, str], int] = {}
        for doc, _, _ in passages:
            counts[(doc.source, doc.external_id)] = counts.get((doc.source, doc.external_id), 0) + 1
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO documents (source, external_id, chunks) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(s, i, n) for (s, i), n in counts.items()],
            )
    return max(inserted, 0)


def ingest_documents(
    db: Database,
    embedder: Embedder,
    docs: Iterable[Document],
    annotator: Annotator,
    *,
    progress: bool = False,
    total: int | None = None,
    label: str = "ingest",
    batch_size: int = BATCH_DOCUMENTS,
) -> IngestReport:
    """Store ``docs`` (skipping those already stored); commits one batch at a time.

    Call :meth:`Database.refresh_statistics` afterwards (:func:`ingest_paths` does) so that
    full-text search weighs terms by their counts in the new corpus.
    """
    if embedder.dim != EMBEDDING_DIM:
        raise ConfigError(
            f"The literature store holds {EMBEDDING_DIM}-dimensional embeddings; the model at "
            f"{embedder.model_dir} makes {embedder.dim}. Use a {EMBEDDING_DIM}-dim model."
        )
    report = IngestReport()
    started = time.perf_counter()
    bar = tqdm(total=total, desc=label, unit=" docs", disable=not progress, mininterval=1.0)
    for batch in _batches(docs, batch_size):
        unique = list({(d.source, d.external_id): d for d in reversed(batch)}.values())[::-1]
        stored = _stored(db, unique)
        fresh = [d for d in unique if (d.source, d.external_id) not in stored]
        report.documents_read += len(batch)
        report.documents_skipped += len(batch) - len(fresh)
        if fresh:
            report.passages_added += _store(db, fresh, embedder, annotator)
            report.documents_added += len(fresh)
        bar.update(len(batch))
    bar.close()
    report.seconds = time.perf_counter() - started
    return report


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    source: Source | None = None,
    progress: bool = False,
) -> IngestReport:
    """Ingest files of any supported format; ``source`` overrides each document's source.

    Ends by annotating any passage left unannotated and refreshing the search statistics.
    """
    db = Database.open(settings)
    embedder = Embedder.from_settings(settings)
    annotator = Annotator.from_settings(settings)
    total = IngestReport()
    for path in paths:
        docs: Iterable[Document] = read_documents(path)
        if source is not None:
            docs = (_with_source(d, source) for d in docs)
        part = ingest_documents(db, embedder, docs, annotator, progress=progress, label=path.name)
        for name in ("documents_read", "documents_added", "documents_skipped", "passages_added"):
            setattr(total, name, getattr(total, name) + getattr(part, name))
        total.seconds += part.seconds
    started = time.perf_counter()
    annotate_missing(db, annotator, progress=progress)
    db.refresh_statistics()
    total.seconds += time.perf_counter() - started
    return total


def _with_source(doc: Document, source: Source) -> Document:
    doc.source = source
    return doc


def ingest_bundle(settings: Settings, *, progress: bool = False) -> IngestReport:
    """Ingest the bundle's literature (a fast no-op for documents already stored)."""
    return ingest_paths(
        settings, [settings.data_file(p) for p in bundle.LITERATURE_FILES], progress=progress
    )


__all__ = ["IngestReport", "ingest_bundle", "ingest_documents", "ingest_paths"]
