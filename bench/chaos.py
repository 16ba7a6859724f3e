"""Chaos benchmark: the replica scenario of tests/replicas (three `warroom serve` on Postgres behind
HAProxy, Slack at 200 ms a call, 100 mixed requests, one replica killed with SIGKILL mid-burst and
started again) run N times.

Prints, per trial and in total: requests acknowledged, effects lost (acknowledged, never happened)
and duplicated (happened twice), and the time from the kill until every job the dead replica held
was finished by another. Target: 0 lost, 0 duplicated; recovery within the lease + 5 s.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/chaos PYTHONPATH=. python bench/chaos.py
     (the database is emptied before every trial; `--rolling` replaces each replica in turn instead)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from tests.replicas.processes import HAPROXY
from tests.replicas.scenario import LEASE_SECONDS, run_trial


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rolling", action="store_true", help="a rolling restart instead of a kill")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        raise SystemExit("set DATABASE_URL to a Postgres database (it is emptied): replicas need Postgres")
    if HAPROXY is None:
        raise SystemExit("HAProxy is not installed (apt-get install -y haproxy)")
    disturbance = "rolling" if args.rolling else "kill"
    acknowledged = lost = duplicated = unsettled = 0
    recoveries: list[float] = []
    for trial in range(1, args.trials + 1):
        with tempfile.TemporaryDirectory(prefix="chaos-") as workdir:
            try:
                tally = run_trial(url, Path(workdir), disturbance, seed=trial)
            except AssertionError as exc:  # the cluster did not settle: say why, go on
                print(f"trial {trial}: FAILED: {str(exc)[:2000]}", flush=True)
                unsettled += 1
                continue
        acknowledged += tally.acknowledged
        lost += len(tally.lost)
        duplicated += len(tally.duplicated)
        recovery = "" if tally.recovery_seconds is None else f", recovered in {tally.recovery_seconds:.1f} s"
        if tally.recovery_seconds is not None:
            recoveries.append(tally.recovery_seconds)
        print(f"trial {trial}: {tally.acknowledged} acknowledged{recovery}; {tally.problems()}", flush=True)
    print(
        f"trials {args.trials} ({disturbance}), acknowledged {acknowledged}, "
        f"lost {lost}, duplicated {duplicated}, did not settle {unsettled}"
    )
    if recoveries:
        print(
            f"recovery after the kill: median {statistics.median(recoveries):.1f} s, "
            f"max {max(recoveries):.1f} s (target: within lease {LEASE_SECONDS} s + 5 s)"
        )
    return 0 if lost == duplicated == unsettled == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
