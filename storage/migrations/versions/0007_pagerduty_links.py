"""The PagerDuty incidents each war room follows (the alert's, its re-triggers, pages sent), filled
from the alerts and pages already linked.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    links = op.create_table(
        "pagerduty_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("pd_incident_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("html_url", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("page_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_pagerduty_links_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_pagerduty_links_alert_id_alerts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["page_id"], ["pages.id"], name=op.f("fk_pagerduty_links_page_id_pages"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pagerduty_links")),
        sa.UniqueConstraint("pd_incident_id", name="uq_pagerduty_links_pd_incident_id"),
    )
    op.create_index("ix_pagerduty_links_incident", "pagerduty_links", ["incident_id"])
    rows = _existing_links()
    if rows:
        op.bulk_insert(links, rows)


def _existing_links() -> list[dict[str, Any]]:
    """One row per PagerDuty incident an alert or a page already tied to a war room."""
    connection = op.get_bind()
    alerts = sa.table(
        "alerts",
        sa.column("id", sa.Integer()),
        sa.column("incident_id", sa.Integer()),
        sa.column("pd_incident_id", sa.String()),
        sa.column("status", sa.String()),
        sa.column("first_seen_at", sa.DateTime(timezone=True)),
        sa.column("resolved_at", sa.DateTime(timezone=True)),
        sa.column("raw", sa.JSON()),
    )
    pages = sa.table(
        "pages",
        sa.column("id", sa.Integer()),
        sa.column("incident_id", sa.Integer()),
        sa.column("pd_incident_id", sa.String()),
        sa.column("paged_at", sa.DateTime(timezone=True)),
    )
    rows: dict[str, dict[str, Any]] = {}
    linked = sa.select(alerts).where(alerts.c.incident_id.is_not(None), alerts.c.pd_incident_id != "")
    for alert in connection.execute(linked).mappings():
        raw = alert["raw"] if isinstance(alert["raw"], dict) else {}
        number = raw.get("number")
        rows[alert["pd_incident_id"]] = {
            "incident_id": alert["incident_id"],
            "pd_incident_id": alert["pd_incident_id"],
            "number": number if isinstance(number, int) else None,
            "html_url": str(raw.get("html_url") or "")[:500],
            "status": alert["status"] if alert["status"] in ("acknowledged", "resolved") else "triggered",
            "alert_id": alert["id"],
            "page_id": None,
            "linked_at": alert["first_seen_at"],
            "resolved_at": alert["resolved_at"] if alert["status"] == "resolved" else None,
        }
    # a page's later status was never kept: it counts as open, and resolving finds out
    for page in connection.execute(sa.select(pages).where(pages.c.pd_incident_id.is_not(None))).mappings():
        rows.setdefault(
            page["pd_incident_id"],
            {
                "incident_id": page["incident_id"],
                "pd_incident_id": page["pd_incident_id"],
                "number": None,
                "html_url": "",
                "status": "triggered",
                "alert_id": None,
                "page_id": page["id"],
                "linked_at": page["paged_at"],
                "resolved_at": None,
            },
        )
    return list(rows.values())


def downgrade() -> None:
    op.drop_index("ix_pagerduty_links_incident", table_name="pagerduty_links")
    op.drop_table("pagerduty_links")
