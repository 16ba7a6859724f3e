"""Automatic fixes run on an alert rather than in an incident, and whether each ran on trial.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("remediation_runs") as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("alert_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("trial", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key(
            "fk_remediation_runs_alert_id", "alerts", ["alert_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_index("ix_remediation_runs_alert_id", ["alert_id"])


def downgrade() -> None:
    op.execute("DELETE FROM remediation_runs WHERE incident_id IS NULL")
    with op.batch_alter_table("remediation_runs") as batch_op:
        batch_op.drop_index("ix_remediation_runs_alert_id")
        batch_op.drop_constraint("fk_remediation_runs_alert_id", type_="foreignkey")
        batch_op.drop_column("trial")
        batch_op.drop_column("alert_id")
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
