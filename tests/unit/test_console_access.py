"""Who may read a private incident, in the console and the API: its members (who declared it,
held a role, acted on its timeline, or is in its war room as Slack says) and admins; to anyone
else it does not exist. Public incidents are for every signed-in person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.api.queries import EVERYTHING, PUBLIC, IncidentFilter, Reader, incident_by_number, list_incidents
from bot.http.console.auth import local_path, session_key
from bot.incidents.errors import IncidentNotFound
from storage.models import Incident, RoleAssignment, TimelineEvent
from storage.session import in_session

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _incident(
    number: int, *, private: bool, channel: str | None = None, declared_by: str = "U0ALICE"
) -> Incident:
    return Incident(
        number=number,
        title=f"Incident {number}",
        severity=2,
        private=private,
        channel_id=channel,
        commander_id=declared_by,
        declared_by=declared_by,
        declared_at=AT,
    )


@pytest.fixture
def incidents(db):
    """INC-1 public; INC-2 private, declared by alice, bob was IC once, carol noted on it; INC-3
    private in room C0SECRET."""

    def fill(session):
        public, private, roomed = (
            _incident(1, private=False),
            _incident(2, private=True),
            _incident(3, private=True, channel="C0SECRET", declared_by="U0DAVE"),
        )
        session.add_all([public, private, roomed])
        session.flush()
        session.add(
            RoleAssignment(
                incident_id=private.id,
                role="ic",
                user_id="U0BOB",
                assigned_by="U0ALICE",
                assigned_at=AT,
                relieved_at=AT,
            )
        )
        session.add(TimelineEvent(incident_id=private.id, at=AT, kind="note", actor_id="U0CAROL", text="hi"))

    in_session(fill)


def visible(reader: Reader) -> list[int]:
    page = in_session(list_incidents, IncidentFilter(), reader=reader, limit=50, before=None)
    return sorted(i.number for i in page.items)


def test_members_see_their_private_incidents_and_nobody_else_does(incidents):
    assert visible(EVERYTHING) == [1, 2, 3]
    assert visible(PUBLIC) == [1]
    assert visible(Reader(user_id="U0ALICE")) == [1, 2]  # declared it
    assert visible(Reader(user_id="U0BOB")) == [1, 2]  # held a role, even though relieved since
    assert visible(Reader(user_id="U0CAROL")) == [1, 2]  # acted on its timeline
    assert visible(Reader(user_id="U0EVE")) == [1]
    assert visible(Reader(user_id="U0EVE", rooms=frozenset({"C0SECRET"}))) == [1, 3]  # in its war room


def test_a_private_incident_is_as_if_it_did_not_exist_for_a_non_member(incidents):
    assert in_session(incident_by_number, 3, reader=Reader(user_id="U0DAVE")).number == 3
    with pytest.raises(IncidentNotFound):
        in_session(incident_by_number, 3, reader=Reader(user_id="U0EVE"))
    with pytest.raises(IncidentNotFound):
        in_session(incident_by_number, 3, reader=Reader(user_id="U0EVE", rooms=frozenset({"C0OTHER"})))
    assert in_session(incident_by_number, 1, reader=Reader(user_id="U0EVE")).number == 1


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/incidents/INC-4", "/incidents/INC-4"),
        ("/reports?weeks=8", "/reports?weeks=8"),
        ("https://evil.example/", "/incidents"),
        ("//evil.example/", "/incidents"),
        ("/\\evil.example", "/incidents"),
        ("", "/incidents"),
        (None, "/incidents"),
    ],
)
def test_after_sign_in_the_browser_only_returns_to_a_page_of_this_site(asked, goes):
    assert local_path(asked) == goes


def test_the_session_key_is_derived_from_the_client_secret_and_never_is_it():
    key = session_key("s3cret")
    assert key == session_key("s3cret") != session_key("other") and "s3cret" not in key
