"""`make test` runs each benchmark once in a small form, so that none can rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kedrec_agent.config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BENCH = Path(__file__).resolve().parents[2] / "bench"
KG = (
    ["kg.py", "--quick", "--skip-rdflib"],
    ("build:", "reopen + first query", "drugs_for_disease", "mechanism_paths", "full DRKG scale"),
)
LITERATURE = (
    ["literature.py", "--quick"],
    ("PubMedQA", "BC5CDR", "hybrid", "search without embedding", "recall@10"),
)
LLM = (
    ["llm.py", "--quick"],
    ("prefill", "decode", "schema-constrained: recommend p50", "unconstrained: recommend p50",
     "log-likelihood scoring", "dynamic batching", "llama.cpp server", "llama.cpp"),
)  # fmt: skip
AGENT = (
    ["agent.py", "--quick"],
    ("cold first request", "end to end: p50", "first streamed token", "stage reason",
     "concurrent: 2 requests in one process, 0 errors"),
)  # fmt: skip


def _check(process: subprocess.Popen[str], figures: tuple[str, ...], timeout: int) -> None:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()
    assert process.returncode == 0, stderr[-2000:]
    for figure in figures:
        assert figure in stdout


def _start(args: list[str]) -> subprocess.Popen[str]:
    script, *rest = args
    return subprocess.Popen(
        [sys.executable, str(BENCH / script), *rest],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_graph_and_literature_benchmarks_side_by_side(bundle_settings: Settings) -> None:
    # Each is mostly one thread (Oxigraph, Postgres, Python): on two cores they run at once.
    runs = [(_start(args), figures) for args, figures in (KG, LITERATURE)]
    try:
        for process, figures in runs:
            _check(process, figures, timeout=600)
    finally:
        for process, _ in runs:
            process.kill()


@pytest.mark.parametrize(("args", "figures"), [LLM, AGENT], ids=["llm", "agent"])
def test_benchmark_small_form(
    bundle_settings: Settings, args: list[str], figures: tuple[str, ...]
) -> None:
    _check(_start(args), figures, timeout=600)
