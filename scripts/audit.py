#!/usr/bin/env python3
"""Audit the CI lock file's pins for known vulnerabilities with pip-audit (its PyPI service).

Exit 1 when any pinned release has a known vulnerability, naming each. When the vulnerability
service cannot be reached or answers for none of the pins, nothing was audited: say so in one
line and exit 0, or 1 when WARROOM_AUDIT_REQUIRED=1 (for a CI that must audit).

Usage: python scripts/audit.py [requirements/ci.txt]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LOCK = Path(__file__).resolve().parents[1] / "requirements" / "ci.txt"
# What pip-audit prints when it cannot reach its service (as opposed to a broken lock file).
UNREACHABLE = ("ConnectionError", "NameResolutionError", "ServiceError", "Max retries exceeded", "Timeout")


def judge(report: dict[str, Any] | None, error: str = "") -> tuple[int, list[str]]:
    """The exit code and the lines to print for a pip-audit JSON report (None: it did not run)."""
    required = os.environ.get("WARROOM_AUDIT_REQUIRED") == "1"
    unaudited = 1 if required else 0
    if report is None:
        if any(marker in error for marker in UNREACHABLE):
            return unaudited, [
                f"pip-audit: nothing audited, its vulnerability service is unreachable: {error}"
            ]
        return 1, [f"pip-audit failed: {error}"]
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    if vulnerable:
        lines = [f"pip-audit: {len(vulnerable)} pinned package(s) with known vulnerabilities:"]
        for dep in vulnerable:
            for vuln in dep["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release yet"
                lines.append(f"  {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixed})")
        return 1, lines
    if dependencies and len(skipped) == len(dependencies):
        return unaudited, [
            f"pip-audit: nothing audited, the vulnerability service answered for none of the "
            f"{len(dependencies)} pins (first: {skipped[0]['skip_reason']})"
        ]
    lines = [f"pip-audit: no known vulnerabilities in {len(dependencies) - len(skipped)} pinned package(s)"]
    lines += [f"  not audited: {d['skip_reason']}" for d in skipped]
    return 0, lines


def main(argv: list[str]) -> int:
    lock = Path(argv[0]) if argv else LOCK
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "audit.json"
        command = [sys.executable, "-m", "pip_audit", "--requirement", str(lock), "--require-hashes"]
        command += ["--disable-pip", "--progress-spinner", "off", "--format", "json", "--output", str(output)]
        done = subprocess.run(command, capture_output=True, text=True)
        report = json.loads(output.read_text()) if output.is_file() and output.stat().st_size else None
    last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
    code, lines = judge(report, last)
    print("\n".join(lines), file=sys.stderr if code or report is None else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
