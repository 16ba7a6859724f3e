"""The declare form's page, recorded as the `pagerduty.page` job (until the declare form records
it itself, with the room)."""

from __future__ import annotations

from bot.adapters.pagerduty import PagerDutyGateway, Service
from bot.deps import Deps
from bot.flows.paging import PAGE, page_key
from bot.incidents.changes import Context
from storage.models import Incident


async def send_page(
    deps: Deps,
    gateway: PagerDutyGateway,
    incident: Incident,
    service: Service,
    message: str,
    context: Context,
) -> None:
    """Record this incident's page of `service`, asked for by `context.actor`."""
    assert incident.id is not None
    payload = {"incident_id": incident.id, "service_id": service.id, "user": context.actor.user_id}
    await deps.jobs.submit(PAGE, page_key(incident.id, service.id), payload | {"message": message})
