"""Remediation: runs, votes, the append-only audit and kill switches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "remediation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=False),
        sa.Column("playbook_id", sa.String(length=63), nullable=False),
        sa.Column("action_id", sa.String(length=63), nullable=False),
        sa.Column("label", sa.String(length=75), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("risk", sa.String(length=10), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        _time("requested_at"),
        _time("expires_at"),
        _time("dispatched_at", nullable=True),
        _time("finished_at", nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_remediation_runs_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_runs")),
        sa.UniqueConstraint("request_key", name="uq_remediation_runs_request_key"),
    )
    op.create_table(
        "remediation_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.String(length=32), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        _time("at"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["remediation_runs.id"],
            name=op.f("fk_remediation_votes_run_id_remediation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_votes")),
        sa.UniqueConstraint("run_id", "voter_id", name="uq_remediation_votes_run_voter"),
    )
    op.create_table(
        "remediation_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("from_state", sa.String(length=20), nullable=False),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["remediation_runs.id"],
            name=op.f("fk_remediation_audit_run_id_remediation_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remediation_audit")),
    )
    op.create_table(
        "kill_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=130), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(length=32), nullable=False),
        _time("changed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switches")),
    )
    op.create_index("ix_kill_switches_scope", "kill_switches", ["scope", "id"])


def downgrade() -> None:
    for name in ("kill_switches", "remediation_audit", "remediation_votes", "remediation_runs"):
        op.drop_table(name)
