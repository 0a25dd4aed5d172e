"""Benchmark of the whole agent (`make bench-agent`). Prints its figures, exits 0.

Patients: dev-split diseases (splits/diseases_dev.txt in the data bundle) that the knowledge
graph has candidate drugs for, in a seeded order, each written as a short free-text note
("71-year-old woman with <disease>, on <drug>") so that every stage runs.

1. Cold first request in this process (stores opened, embedder and model loaded).
2. Sequential requests: end-to-end and per-stage p50 / p95, and time to the first
   streamed model token (stream_mode="custom"). Targets: p50 <= 8 s, first token <= 2 s.
3. N concurrent requests in one process (recommend_batch, max_concurrency=N): errors,
   wall time, throughput, per-request p50.

Usage: python bench/agent.py [--patients 30] [--concurrent 20] [--quick]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from typing import Any

from kedrec_agent.agent.context import Context
from kedrec_agent.api import default_graph, graph_input, recommend_batch
from kedrec_agent.config import get_settings
from kedrec_agent.kg.knowledge_graph import KnowledgeGraph
from kedrec_agent.linking import get_linker

MEDICATIONS = ("warfarin", "metformin", "lisinopril", "atorvastatin", "omeprazole", "aspirin")
STAGES = ("link", "kg_evidence", "literature", "rank", "reason", "safety", "answer")


def patients(n: int, seed: int = 0) -> list[str]:
    """Free-text notes for ``n`` dev-split diseases with KG candidates."""
    settings = get_settings()
    diseases = settings.data_file("splits/diseases_dev.txt").read_text().split()
    random.Random(seed).shuffle(diseases)
    linker, kg = get_linker(), KnowledgeGraph.from_settings(settings)
    rng = random.Random(seed)
    notes = []
    for disease in diseases:
        name = linker.name_of(disease)
        if not name or not kg.drugs_for_disease(disease):
            continue
        sex = rng.choice(("woman", "man"))
        notes.append(
            f"{rng.randint(25, 85)}-year-old {sex} with {name}, on {rng.choice(MEDICATIONS)}."
        )
        if len(notes) == n:
            break
    return notes


def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_one(note: str) -> tuple[float, float | None, dict[str, float], dict[str, Any]]:
    """(seconds, seconds to the first model token or None, stage ms, result) of one run."""
    started = time.perf_counter()
    first: float | None = None
    final: dict[str, Any] = {}
    for mode, chunk in default_graph().stream(
        graph_input(note), context=Context(), stream_mode=["custom", "values"]
    ):
        if mode == "custom" and "token" in chunk and first is None:
            first = time.perf_counter() - started
        elif mode == "values":
            final = chunk
    return time.perf_counter() - started, first, final.get("timings", {}), final["result"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=30)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 patients, 2 concurrent")
    args = parser.parse_args(argv)
    n, concurrent = (2, 2) if args.quick else (args.patients, args.concurrent)
    notes = patients(n + 1)
    print(f"agent benchmark: {len(notes) - 1} dev-split patients, {concurrent} concurrent")

    cold, _, stages, _ = run_one(notes[0])
    per = ", ".join(f"{k} {v:.0f} ms" for k, v in stages.items())
    print(f"cold first request (linker and KG open): {cold:.2f} s ({per})")

    totals, firsts, abstained, fallbacks = [], [], 0, 0
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    for note in notes[1:]:
        total, first, stages, result = run_one(note)
        totals.append(total)
        if first is not None:
            firsts.append(first)
        for stage, ms in stages.items():
            per_stage[stage].append(ms / 1000)
        abstained += result["abstained"]
        fallbacks += result["fallback"]
    print(
        f"end to end: p50 {pct(totals, 0.5):.2f} s, p95 {pct(totals, 0.95):.2f} s, "
        f"max {max(totals):.2f} s (target p50 <= 8 s) over {len(totals)} requests; "
        f"{abstained} abstained, {fallbacks} ranked by evidence (model answer unusable)"
    )
    if firsts:
        print(
            f"first streamed token: p50 {pct(firsts, 0.5):.2f} s, p95 {pct(firsts, 0.95):.2f} s "
            f"(target <= 2 s; {len(firsts)} requests reached the model)"
        )
    for stage, values in per_stage.items():
        if values:
            print(f"  stage {stage:12} p50 {pct(values, 0.5) * 1000:7.0f} ms   "
                  f"p95 {pct(values, 0.95) * 1000:7.0f} ms")  # fmt: skip

    batch = [notes[1 + i % (len(notes) - 1)] for i in range(concurrent)]
    started = time.perf_counter()
    results = recommend_batch(batch, max_concurrency=concurrent)
    wall = time.perf_counter() - started
    failed = [r for r in results if r.abstained and "failed" in r.reason]
    print(
        f"concurrent: {concurrent} requests in one process, {len(failed)} errors, "
        f"wall {wall:.1f} s, throughput {concurrent / wall:.2f} requests/s "
        f"({concurrent / wall * 60:.1f}/min); same notes sequentially took "
        f"{sum(totals[i % len(totals)] for i in range(concurrent)):.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
