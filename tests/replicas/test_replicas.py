"""Three `warroom serve` processes on one Postgres behind HAProxy: a replica killed mid-burst, and
a rolling restart, lose no acknowledged request and double none (the scenario: scenario.py)."""

from __future__ import annotations

import os

import pytest

from tests.replicas.processes import HAPROXY
from tests.replicas.scenario import LEASE_SECONDS, run_trial

pytestmark = [
    pytest.mark.replicas,
    pytest.mark.skipif(HAPROXY is None, reason="HAProxy is not installed (apt-get install -y haproxy)"),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
        reason="several replicas need Postgres: set DATABASE_URL",
    ),
]


@pytest.fixture
def database(database_url, db):
    """The run's Postgres database; the scenario empties it before it starts."""
    return database_url


def test_a_replica_killed_mid_burst_loses_and_doubles_nothing_acknowledged(database, tmp_path):
    tally = run_trial(database, tmp_path, "kill")
    assert tally.acknowledged >= 75, tally  # not a vacuous pass: most requests got through
    assert (tally.lost, tally.duplicated) == ([], []), tally.problems()
    assert tally.recovery_seconds is not None and tally.recovery_seconds < LEASE_SECONDS + 5


def test_a_rolling_restart_during_a_burst_loses_and_doubles_nothing_acknowledged(database, tmp_path):
    tally = run_trial(database, tmp_path, "rolling")
    assert tally.acknowledged >= 75, tally  # not a vacuous pass: most requests got through
    assert (tally.lost, tally.duplicated) == ([], []), tally.problems()
