"""Status-update reminders: when the last update was posted, reminded and snoozed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("last_update_at", "last_reminded_at", "reminder_snoozed_until")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
