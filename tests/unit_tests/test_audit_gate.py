"""The pip-audit gate of `make lint` (.ci/audit.py) fails only on vulnerabilities with a fix."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

GATE = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"


def _gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", GATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPORT = {
    "dependencies": [
        {"name": "safe", "version": "1.0", "vulns": []},
        {"name": "old", "version": "2.0", "vulns": [{"id": "GHSA-1", "fix_versions": ["2.1"]}]},
        {"name": "stuck", "version": "3.0", "vulns": [{"id": "CVE-2", "fix_versions": []}]},
        {"name": "kedrec-agent", "skip_reason": "distribution marked as editable"},
        {"name": "ghost", "skip_reason": "Dependency not found on PyPI"},
    ]
}


def test_summary_separates_fixable_unfixed_and_unaudited() -> None:
    fixable, unfixed, skipped, audited = _gate().summarise(REPORT)
    assert fixable == ["old 2.0: GHSA-1 (fixed in 2.1)"]
    assert unfixed == ["stuck 3.0: CVE-2 (no fixed release yet)"]
    assert skipped == ["ghost: Dependency not found on PyPI"]  # the editable package is not
    assert audited == 3


@pytest.mark.parametrize(
    ("report", "strict", "code"),
    [
        (REPORT, False, 1),  # a fix exists: fail
        ({"dependencies": REPORT["dependencies"][2:]}, False, 0),  # only unfixed: pass
        ({"dependencies": REPORT["dependencies"][3:]}, False, 0),  # nothing audited: warn
        ({"dependencies": REPORT["dependencies"][3:]}, True, 1),  # ... unless strict
    ],
)
def test_exit_code_policy(
    monkeypatch: pytest.MonkeyPatch, report: dict[str, Any], strict: bool, code: int
) -> None:
    gate = _gate()

    def fake_run(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 1, stdout=json.dumps(report), stderr="")

    monkeypatch.setattr(gate.subprocess, "run", fake_run)
    monkeypatch.setenv("KEDREC_AUDIT_STRICT", "1" if strict else "0")
    assert gate.main([]) == code
