"""Alerts from sources other than PagerDuty (where each came from, its rule name, severity and
labels), and triage rules made from Slack.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=40), nullable=False, server_default="pagerduty")
        )
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("severity", sa.String(length=50), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("labels", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("group_key", sa.String(length=255), nullable=False, server_default=""))
        batch_op.create_index("ix_alerts_group_key", ["group_key"])
    op.create_table(
        "triage_overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("about", sa.String(length=300), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reverted_by", sa.String(length=20), nullable=True),
        sa.Column("reverted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied", sa.Integer(), nullable=False),
    )
    op.create_index("ix_triage_overrides_active", "triage_overrides", ["reverted_at", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_triage_overrides_active", table_name="triage_overrides")
    op.drop_table("triage_overrides")
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_index("ix_alerts_group_key")
        for column in ("group_key", "labels", "severity", "name", "source"):
            batch_op.drop_column(column)
