"""Known-vulnerability gate for `make lint`: pip-audit on the venv, failing only on fixable ones.

pip-audit alone exits non-zero on any known vulnerability, including those no release fixes
yet, which nobody can act on. This runs it with JSON output and fails only when a
vulnerability has ``fix_versions`` (upgrade the pin in ``.ci/constraints.txt``); unfixed
ones are listed. The editable kedrec-agent itself is skipped. When the vulnerability
service cannot be reached or cannot look a package up, that is said loudly, and it fails
only with ``KEDREC_AUDIT_STRICT=1``.

Usage: ``.venv/bin/python .ci/audit.py`` (exit 0: nothing fixable; 1: something to upgrade).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

COMMAND = (
    sys.executable, "-m", "pip_audit", "--skip-editable", "--format", "json",
    "--progress-spinner", "off",
)  # fmt: skip


def summarise(report: Mapping[str, Any]) -> tuple[list[str], list[str], list[str], int]:
    """Split a pip-audit JSON report into (fixable, unfixed, not audited, audited count)."""
    fixable: list[str] = []
    unfixed: list[str] = []
    skipped: list[str] = []
    audited = 0
    for dep in report.get("dependencies", []):
        name, version = dep.get("name", "?"), dep.get("version", "?")
        if "skip_reason" in dep:
            if name != "kedrec-agent":
                skipped.append(f"{name}: {dep['skip_reason']}")
            continue
        audited += 1
        for vuln in dep.get("vulns", []):
            fixes = vuln.get("fix_versions") or []
            line = f"{name} {version}: {vuln.get('id', '?')}"
            if fixes:
                fixable.append(f"{line} (fixed in {', '.join(fixes)})")
            else:
                unfixed.append(f"{line} (no fixed release yet)")
    return fixable, unfixed, skipped, audited


def main(argv: Sequence[str] | None = None) -> int:
    """Run pip-audit and apply the policy; returns the exit code."""
    strict = os.environ.get("KEDREC_AUDIT_STRICT", "") == "1"
    run = subprocess.run([*COMMAND, *(argv or [])], capture_output=True, text=True, check=False)
    try:
        report = json.loads(run.stdout)
    except ValueError:
        tail = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"audit: WARNING pip-audit produced no report ({tail})")
        return 1 if strict else 0
    fixable, unfixed, skipped, audited = summarise(report)
    print(
        f"audit: {audited} packages audited, {len(fixable)} fixable and {len(unfixed)} "
        f"unfixed known vulnerabilities, {len(skipped)} not audited"
    )
    for line in unfixed:
        print(f"audit: unfixed (not failing): {line}")
    if skipped and not audited:
        print(
            "audit: WARNING no package could be audited (the vulnerability service did not "
            f"know them, e.g. {skipped[0]}); set KEDREC_AUDIT_STRICT=1 to fail on this"
        )
    for line in fixable:
        print(f"audit: FIXABLE: {line}")
    if fixable:
        print("audit: upgrade these pins in .ci/constraints.txt (see README, `make constraints`)")
        return 1
    return 1 if strict and skipped and not audited else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
