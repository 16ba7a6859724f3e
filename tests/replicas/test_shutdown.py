"""`warroom serve` as a real process: SIGTERM drains within the grace and exits 0; a second
process on one SQLite file is refused."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from bot.jobs.queue import QUEUED, RUNNING
from bot.simulator.harness import BROADCAST, LocalWarroom, local_settings
from bot.simulator.sender import SlackSender
from storage.models import Incident, Job
from storage.session import in_session
from tests.replicas.processes import ServeProcess, serve_environment

SECRET = "shutdown-secret"
GRACE = 1.0


def wait_for(what, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := what():
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what.__name__}")


@pytest.fixture
def replica(simulator, db):
    env = serve_environment(
        SLACK_BOT_TOKEN=simulator.token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=simulator.base_url,
        DATABASE_URL=db,
        WARROOM_BROADCAST_CHANNEL=BROADCAST,
        WARROOM_SHUTDOWN_GRACE_SECONDS=str(GRACE),
    )
    process = ServeProcess(env)
    process.start()
    yield process
    process.close()


def test_sigterm_gives_back_an_unfinished_job_and_exits_0_and_the_next_process_shows_it_once(
    replica, simulator, db
):
    person = SlackSender(f"{replica.url}/slack/events", SECRET)
    assert person.command("declare sev2 Checkout returns 500s").status_code == 200

    def room_ready():
        return in_session(lambda s: s.exec(select(Incident).where(Incident.room_ready_at != None)).first())  # noqa: E711

    room = wait_for(room_ready).channel_id
    simulator.set_latency(3.0)  # each Slack call outlasts the grace
    assert person.command("update Rolled back; error rate falling", channel=room).status_code == 200

    def running():
        return in_session(lambda s: s.exec(select(Job).where(Job.state == RUNNING)).all())

    wait_for(running)
    asked = time.monotonic()
    replica.terminate()
    assert replica.wait() == 0, replica.output()
    assert time.monotonic() - asked < GRACE + 3 + 3  # the grace, the HTTP drain and some start-up slack
    jobs = in_session(lambda s: list(s.exec(select(Job))))
    assert RUNNING not in {job.state for job in jobs}
    assert any(job.state == QUEUED and job.lease_owner is None for job in jobs), "the job was given back"
    assert "Traceback" not in replica.output()

    time.sleep(3.5)  # the Slack call the process gave up on lands meanwhile, as it would in Slack
    simulator.set_latency(0)
    successor = LocalWarroom(simulator, local_settings(simulator, db))
    try:
        successor.settle()
    finally:
        successor.stop()
    for channel in (room, BROADCAST):
        said = [m for m in simulator.channel(channel)["messages"] if "Rolled back" in m["text"]]
        assert len(said) == 1, said


def test_a_second_serve_on_the_same_sqlite_file_is_refused_in_one_line(replica, db):
    if not db.startswith("sqlite"):
        pytest.skip("SQLite only: Postgres takes any number of processes")
    second = ServeProcess(replica.env, name="second")
    try:
        second.start(wait=False)
        assert second.wait() == 1
        [line] = second.output().strip().splitlines()
        assert line.startswith("Error: Another Warroom process is using ") and "postgresql://" in line
    finally:
        second.close()


def test_two_workers_on_postgres_serve_one_port_and_stop_on_sigterm(simulator, db):
    if not db.startswith("postgresql"):
        pytest.skip("several processes need Postgres")
    env = serve_environment(
        SLACK_BOT_TOKEN=simulator.token,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=simulator.base_url,
        DATABASE_URL=db,
    )
    pair = ServeProcess(env, workers=2)
    try:
        pair.start()
        pair.terminate()
        assert pair.wait() == 0, pair.output()
        assert pair.output().count("Application startup complete") == 2
        assert pair.output().count("Application shutdown complete") == 2
    finally:
        pair.close()
