"""`make test` runs each benchmark once in a small form, so that none can rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kedrec_agent.config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BENCH = Path(__file__).resolve().parents[2] / "bench" / "kg.py"
BENCH_LIT = BENCH.parent / "literature.py"


def test_kg_benchmark_small_form(bundle_settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--skip-rdflib"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for figure in ("build:", "reopen + first query", "drugs_for_disease", "mechanism_paths",
                   "full DRKG scale"):  # fmt: skip
        assert figure in result.stdout


def test_literature_benchmark_small_form(bundle_settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH_LIT), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for figure in ("PubMedQA", "BC5CDR", "hybrid", "search without embedding", "recall@10"):
        assert figure in result.stdout


def test_llm_benchmark_small_form(bundle_settings: Settings) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH.parent / "llm.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for figure in ("prefill", "decode", "recommend p50", "log-likelihood scoring", "llama.cpp"):
        assert figure in result.stdout
