"""The load test in a small form: 4 concurrent users, one request each, through ``arecommend``.

The full run (20 users, the LangGraph API server as well) is ``make bench-load``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from kedrec_agent.config import Settings

pytestmark = pytest.mark.integration
BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def _load_bench() -> Any:
    """bench/load.py as a module (bench/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("kedrec_bench_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_concurrent_users_get_their_own_answers_without_errors(bundle_settings: Settings) -> None:
    bench = _load_bench()
    reqs = bench.requests(4)
    assert len({(r.condition, r.age) for r in reqs}) == 4  # distinct patients
    report = bench.run_api(reqs, users=4)
    assert report.errors == [] and report.crosstalk == []
    assert len(report.latencies) == 4
    before, peak, after = report.rss_mb
    assert 0 < before <= peak and after < before + 1_000  # bounded: no runaway growth
