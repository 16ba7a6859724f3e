"""Tickets: follow-ups tracked as issues in a tracker (GitHub), one per follow-up.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "follow_up_id", sa.Integer(), sa.ForeignKey("follow_ups.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("tracker", sa.String(length=20), nullable=False),
        sa.Column("project", sa.String(length=200), nullable=False),
        sa.Column("marker", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("follow_up_id", name="uq_tickets_follow_up_id"),
        sa.UniqueConstraint("marker", name="uq_tickets_marker"),
    )
    op.create_index("ix_tickets_tracker_ref", "tickets", ["tracker", "ref"])


def downgrade() -> None:
    op.drop_index("ix_tickets_tracker_ref", table_name="tickets")
    op.drop_table("tickets")
