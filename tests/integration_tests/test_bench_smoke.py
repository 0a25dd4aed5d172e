"""`make test` runs each benchmark once in a small form, so that none can rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kedrec_agent.config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize(
    ("script", "args", "timeout", "figures"),
    [
        ("kg.py", ["--quick", "--skip-rdflib"], 300,
         ("build:", "reopen + first query", "drugs_for_disease", "mechanism_paths",
          "full DRKG scale")),
        ("literature.py", ["--quick"], 600,
         ("PubMedQA", "BC5CDR", "hybrid", "search without embedding", "recall@10")),
        ("llm.py", ["--quick"], 600,
         ("prefill", "decode", "schema-constrained: recommend p50", "unconstrained: recommend p50",
          "log-likelihood scoring", "dynamic batching", "llama.cpp server", "llama.cpp")),
        ("agent.py", ["--quick"], 600,
         ("cold first request", "end to end: p50", "first streamed token", "stage reason",
          "concurrent: 4 requests in one process, 0 errors")),
    ],
)  # fmt: skip
def test_benchmark_small_form(
    bundle_settings: Settings, script: str, args: list[str], timeout: int, figures: tuple[str, ...]
) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for figure in figures:
        assert figure in result.stdout
