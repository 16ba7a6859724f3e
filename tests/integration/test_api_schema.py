"""Schemathesis against the OpenAPI document the running server serves: for generated requests
to every operation, no 5xx, every answer as documented (status, media type, schema), and
nothing answered without a token."""

from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from bot import clock
from bot.api.tokens import create_token
from bot.simulator.harness import LocalWarroom, local_settings
from storage.session import in_session

EXAMPLES = 25  # per operation: enough to meet every documented answer, quick enough for CI


@pytest.fixture
def served(simulator, db):
    warroom = LocalWarroom(simulator, local_settings(simulator, db, warroom_api_rate_limit=100_000))
    yield warroom
    warroom.stop()


def test_every_operation_answers_as_documented_and_only_to_a_token(served):
    secret = in_session(create_token, "schemathesis", "write", private=True, at=clock.now())[1]
    base = f"{served.server.url}/api/v1"
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case):
            auth = {"Authorization": f"Bearer {secret}"}
            if case.method == "POST":  # as a client does; one key for two bodies is refused (422)
                auth["Idempotency-Key"] = uuid.uuid4().hex
            # a generated commander is no one in the workspace: refused (422), as it must be
            refused = [positive_data_acceptance] if case.operation.label == "POST /incidents" else []
            case.call_and_validate(base_url=base, headers=auth, excluded_checks=refused)
            headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            anonymous = httpx.request(
                case.method, base + case.formatted_path, params=case.query, headers=headers
            )
            assert anonymous.status_code == 401, f"{case.operation.label}: {anonymous.text}"

        answers_as_documented()
