"""The wheel carries its samples and the console's templates and static files: built, installed in
a fresh venv and run from another directory, `warroom demo` finds the runbooks and triage rules
and ends with the postmortem draft.

Offline: the wheel is built without build isolation (hatchling is a test dependency), installed
with --no-deps, and the fresh venv sees this environment's dependencies through a .pth file."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_installed_wheel_runs_the_demo_from_any_directory(tmp_path):
    pytest.importorskip("hatchling")
    wheels = tmp_path / "wheels"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        wheels,
        ROOT,
        cwd=tmp_path,
    )
    [wheel] = wheels.glob("warroom-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/samples/triage.yaml" in names and "storage/migrations/script.py.mako" in names
    console = ROOT / "bot" / "http" / "console"
    shipped = {
        str(path.relative_to(ROOT)) for path in console.rglob("*") if path.suffix in (".html", ".css", ".js")
    }
    assert shipped and shipped <= set(names)  # the console's templates and static files
    assert sum(name.startswith("bot/samples/playbooks/") for name in names) == len(
        list((ROOT / "playbooks").glob("*.md"))
    )

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        wheel,
        cwd=tmp_path,
    )
    site = Path(
        run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "warroom-test-deps.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARROOM_", "DATABASE_URL", "SLACK_"))}
    env.pop("PYTHONPATH", None)
    where = run(
        python, "-c", "import bot, storage; print(bot.__file__, storage.__file__)", cwd=elsewhere, env=env
    )
    assert where.count(str(site)) == 2, where  # the installed copy, not this checkout

    warroom = venv / "bin" / "warroom"
    checked = run(warroom, "playbooks", "check", cwd=elsewhere, env=env)
    assert checked.startswith(f"{len(list((ROOT / 'playbooks').glob('*.md')))} runbooks valid, 0 problems")
    assert str(site) in checked

    out = run(warroom, "demo", cwd=elsewhere, env=env)
    assert "Runbook: Checkout returns 5xx after a deploy" in out
    assert "Matched on alert Checkout 5xx*, keywords checkout, 5xx." in out  # triage rules found
    assert "new channel #inc-2-checkout-5xx-rate-above-5" in out
    assert "--- INC-1-postmortem.md ---\n# INC-1: Checkout returns 500s" in out
    assert list(elsewhere.iterdir()) == []
