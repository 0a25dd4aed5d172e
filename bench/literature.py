"""Benchmark of the literature store (`make bench-lit`). Prints its figures, exits 0.

Quality, on tasks nobody here labelled, hybrid vs full-text-only vs dense-only in one run
(plus reciprocal rank fusion of the text and dense rankings, the fusion the store does not
use, for comparison):
  1. PubMedQA: each question against the whole corpus; is its own abstract retrieved?
     recall@1, recall@10, MRR@10, nDCG@10.
  2. BC5CDR: for each chemical-induced-disease relation, query "chemical disease"; is the
     annotating abstract in the top 10?
The search's fusion weights were tuned on PubMedQA questions 501-1000 and the BC5CDR
development set; questions 1-500 and the BC5CDR test set are held out.
Speed: top-10 search p50/p95 with and without the query embedding; HNSW recall@10 against
exact search, on the bundle and on 100k synthetic vectors (a scratch table, dropped after).

Needs the bundle ingested (`kedrec setup`). Usage: python bench/literature.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from psycopg import sql

from kedrec_agent.config import Settings
from kedrec_agent.data.drkg import open_text
from kedrec_agent.literature.db import HNSW_OPTIONS, Database
from kedrec_agent.literature.search import EF_SEARCH, Hit, LiteratureSearch, Mode

MODES: tuple[Mode, ...] = ("hybrid", "text", "dense")
RRF_K = 60


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def doc_ids(hits: Sequence[Hit]) -> list[str]:
    return [f"{h.source}:{h.external_id}" for h in hits]


def rrf(*rankings: list[str]) -> list[str]:
    """Reciprocal rank fusion of document rankings (the fusion the store does not use)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1 / (RRF_K + rank)
    return sorted(scores, key=lambda d: -scores[d])


def quality(search: LiteratureSearch, tasks: list[tuple[str, str]], name: str) -> None:
    """Rank of the gold abstract per mode, plus RRF of the text and dense rankings."""
    vectors = search.embedder.embed([q for q, _ in tasks], batch_size=64)
    ranks: dict[str, list[int | None]] = {m: [] for m in (*MODES, "rrf k=60")}
    for (query, pmid), vector in zip(tasks, vectors, strict=True):
        runs: dict[str, list[str]] = {
            m: doc_ids(search.search(query, k=50, mode=m, query_vector=vector)) for m in MODES
        }
        runs["rrf k=60"] = rrf(runs["text"], runs["dense"])
        for mode, ranking in runs.items():
            top = ranking[:10]
            gold = f"pubmed:{pmid}"
            ranks[mode].append(top.index(gold) + 1 if gold in top else None)
    print(f"== {name}: {len(tasks)} queries")
    print(f"  {'mode':9} {'R@1':>6} {'R@10':>6} {'MRR':>6} {'nDCG@10':>8}")
    for mode, found in ranks.items():
        n = len(found)
        r1 = sum(r == 1 for r in found) / n
        r10 = sum(r is not None for r in found) / n
        mrr = sum(1 / r for r in found if r) / n
        ndcg = sum(1 / math.log2(r + 1) for r in found if r) / n
        print(f"  {mode:9} {r1:6.3f} {r10:6.3f} {mrr:6.3f} {ndcg:8.3f}")


def pubmedqa_tasks(data: Path, n: int) -> list[tuple[str, str]]:
    with open_text(data / "literature/pubmedqa/ori_pqal.json") as handle:
        items = json.load(handle)
    return [(item["QUESTION"], str(pmid)) for pmid, item in list(items.items())[:n]]


def bc5cdr_tasks(data: Path, n: int, part: str = "Test") -> list[tuple[str, str]]:
    tasks: list[tuple[str, str]] = []
    with open_text(data / f"literature/bc5cdr/CDR_{part}Set.PubTator.txt") as handle:
        names: dict[str, str] = {}
        for line in handle:
            cols = line.rstrip("\n").split("\t")
            if len(cols) == 6:
                for mesh in cols[5].split("|"):
                    names.setdefault(mesh, cols[3])
            elif len(cols) == 4 and cols[1] == "CID":
                if cols[2] in names and cols[3] in names:
                    tasks.append((f"{names[cols[2]]} {names[cols[3]]}", cols[0]))
            elif not line.strip():
                names = {}
    return tasks[:n]


def speed(search: LiteratureSearch, queries: list[str]) -> None:
    embed_s, search_s, full_s = [], [], []
    for q in queries:
        started = time.perf_counter()
        vector = search.embedder.embed([q])[0]
        embed_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        search.search(q, k=10, query_vector=vector)
        search_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        search.search(q, k=10)
        full_s.append(time.perf_counter() - started)
    print(f"== speed, top-10 hybrid, {len(queries)} queries")
    for label, values, target in (
        ("search without embedding", search_s, "p50 <= 30 ms"),
        ("query embedding", embed_s, "<= 15 ms"),
        ("search with embedding", full_s, "-"),
    ):
        print(
            f"  {label:25} p50 {pct(values, 50):6.1f} ms, p95 {pct(values, 95):6.1f} ms "
            f"(target {target})"
        )


def hnsw_recall(db: Database, table: str, vectors: np.ndarray, k: int = 10) -> float:
    query = sql.SQL("SELECT id FROM {} ORDER BY embedding <=> %s LIMIT %s").format(
        sql.Identifier(table)
    )
    found = 0
    with db.connection() as conn:
        for vector in vectors:
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(EF_SEARCH))
                approx = conn.execute(query, (vector, k)).fetchall()
            with conn.transaction():
                conn.execute("SET LOCAL enable_indexscan = off")  # exact scan
                exact = conn.execute(query, (vector, k)).fetchall()
            found += len({r[0] for r in approx} & {r[0] for r in exact})
    return found / (k * len(vectors))


def synthetic_recall(db: Database, rows: int, queries: int) -> None:
    # The writer: the searches' read-only role cannot create the scratch table.
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(200, 384)).astype(np.float32)
    data = centers[rng.integers(0, 200, rows)] + 0.6 * rng.normal(size=(rows, 384)).astype(
        np.float32
    )
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    with db.connection() as conn:
        conn.execute("DROP TABLE IF EXISTS bench_vectors")
        conn.execute("CREATE TABLE bench_vectors (id integer PRIMARY KEY, embedding vector(384))")
        with conn.cursor().copy("COPY bench_vectors (id, embedding) FROM STDIN") as copy:
            for i, vector in enumerate(data):
                copy.write_row((i, vector))
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE INDEX ON bench_vectors USING hnsw (embedding vector_cosine_ops) "
            + HNSW_OPTIONS  # the literature store's index options
        )
        conn.commit()
        build = time.perf_counter() - started
    try:
        picks = data[rng.integers(0, rows, queries)] + 0.1 * rng.normal(size=(queries, 384)).astype(
            np.float32
        )
        recall = hnsw_recall(db, "bench_vectors", picks.astype(np.float32))
        print(
            f"  {rows:,} synthetic vectors: HNSW build {build:.1f} s, "
            f"recall@10 {recall:.3f} (target >= 0.95)"
        )
    finally:
        with db.connection() as conn:
            conn.execute("DROP TABLE IF EXISTS bench_vectors")
            conn.commit()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args(argv)
    n, synthetic = (50, 5_000) if args.quick else (10_000, 100_000)
    settings = Settings.from_env()
    search = LiteratureSearch.from_settings(settings)
    with search.db.connection() as conn:
        count = conn.execute(
            "SELECT count(*), count(DISTINCT (source, external_id)) FROM passages"
        ).fetchone()
    print(
        f"corpus: {count[0]:,} passages from {count[1]:,} documents" if count else "corpus: empty"
    )
    # The fusion weights were chosen on the tuning halves; the held-out halves are the result.
    pubmedqa = pubmedqa_tasks(settings.data_dir, 1_000)
    quality(search, pubmedqa[:500][:n], "PubMedQA questions 1-500 (held out)")
    quality(search, bc5cdr_tasks(settings.data_dir, n), "BC5CDR test set CID (held out)")
    quality(search, pubmedqa[500:][:n], "PubMedQA questions 501-1000 (used for tuning)")
    quality(search, bc5cdr_tasks(settings.data_dir, n, "Development"), "BC5CDR dev set (tuning)")
    questions = [q for q, _ in pubmedqa_tasks(settings.data_dir, 200 if not args.quick else 20)]
    speed(search, questions)
    print(f"== HNSW recall@10 against exact search ({HNSW_OPTIONS}, ef_search = {EF_SEARCH})")
    sample = search.embedder.embed(random.Random(3).sample(questions, min(100, len(questions))))
    print(f"  bundle: recall@10 {hnsw_recall(search.db, 'passages', sample):.3f} (target >= 0.95)")
    synthetic_recall(Database.open(settings), synthetic, 100 if not args.quick else 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
