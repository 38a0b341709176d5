"""Tickets: an index on (state, due_at) for the deadline sweeper's overdue and clock scans.

Revision ID: 0015_ticket_due
Revises: 0014_tickets
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_ticket_due"
down_revision: str | Sequence[str] | None = "0014_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_due", "ticket", ["state", "due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ticket_due", table_name="ticket")
