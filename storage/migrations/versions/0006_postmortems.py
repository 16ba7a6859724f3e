"""Postmortem reviews, follow-ups, the archive of closed war rooms, drills; finding unprocessed
webhooks.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARCHIVE_COLUMNS = ("archive_noticed_at", "archived_at")


def _incident_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["incident_id"], ["incidents.id"], name=op.f(f"fk_{table}_incident_id_incidents"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        for name in ARCHIVE_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("drill_of", sa.String(length=63), nullable=True))
    op.create_table(
        "postmortem_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("customer_impact", sa.Text(), nullable=False),
        sa.Column("detection", sa.Text(), nullable=False),
        sa.Column("users_affected", sa.Integer(), nullable=True),
        sa.Column("impact_minutes", sa.Integer(), nullable=True),
        sa.Column("lost_business", sa.String(length=200), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("fix_kind", sa.String(length=20), nullable=False),
        sa.Column("given_by", sa.String(length=32), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("draft_ts", sa.String(length=32), nullable=True),
        sa.Column("draft_link", sa.String(length=500), nullable=True),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=True),
        _incident_fk("postmortem_reviews"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_reviews")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_postmortem_reviews_incident_id")),
    )
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.String(length=32), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        _incident_fk("follow_ups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("request_key", name="uq_follow_ups_request_key"),
    )
    op.create_index("ix_follow_ups_incident", "follow_ups", ["incident_id"])
    op.create_index("ix_follow_ups_open_due", "follow_ups", ["done_at", "due_on"])
    op.create_index("ix_webhook_deliveries_unprocessed", "webhook_deliveries", ["processed_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_unprocessed", table_name="webhook_deliveries")
    op.drop_index("ix_follow_ups_open_due", table_name="follow_ups")
    op.drop_index("ix_follow_ups_incident", table_name="follow_ups")
    op.drop_table("follow_ups")
    op.drop_table("postmortem_reviews")
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_column("drill_of")
        for name in reversed(ARCHIVE_COLUMNS):
            batch_op.drop_column(name)
