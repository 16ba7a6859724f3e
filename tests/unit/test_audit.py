"""scripts/audit.py, the CI's vulnerability gate: a known vulnerability fails it; a service that
cannot be reached is said out loud (and fails only where auditing is required)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

AUDIT = runpy.run_path(str(Path(__file__).resolve().parents[2] / "scripts" / "audit.py"), run_name="audit")
judge = AUDIT["judge"]

CLEAN = {"name": "click", "version": "8.5.1", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "2.10",
    "vulns": [{"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "description": "sandbox escape"}],
}
SKIPPED = {"name": "aiohttp", "skip_reason": "Dependency not found on PyPI and could not be audited: aiohttp"}


@pytest.fixture(autouse=True)
def audit_not_required(monkeypatch):
    monkeypatch.delenv("WARROOM_AUDIT_REQUIRED", raising=False)


def test_a_known_vulnerability_fails_naming_it():
    code, lines = judge({"dependencies": [CLEAN, VULNERABLE]})
    assert code == 1
    assert lines[1] == "  jinja2 2.10: PYSEC-2019-217 (fixed in 2.10.1)"


def test_no_vulnerability_passes():
    assert judge({"dependencies": [CLEAN]}) == (
        0,
        ["pip-audit: no known vulnerabilities in 1 pinned package(s)"],
    )


def test_nothing_audited_is_said_and_fails_only_when_required(monkeypatch):
    code, lines = judge({"dependencies": [SKIPPED]})
    assert code == 0 and lines[0].startswith("pip-audit: nothing audited")
    code, _ = judge(None, "requests.exceptions.ConnectionError: Failed to resolve 'api.osv.dev'")
    assert code == 0
    monkeypatch.setenv("WARROOM_AUDIT_REQUIRED", "1")
    assert judge({"dependencies": [SKIPPED]})[0] == 1


def test_a_broken_lock_file_fails():
    code, lines = judge(None, "ERROR:pip_audit._cli:requirement jinja2==2.10 does not contain a hash")
    assert code == 1 and lines == [
        "pip-audit failed: ERROR:pip_audit._cli:requirement jinja2==2.10 does not contain a hash"
    ]
