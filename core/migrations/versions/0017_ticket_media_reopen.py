"""Tickets: ``media_url`` (a photo's address an Open311 client sent, kept as given, never
fetched) and ``reopened_at`` (the time of the latest reopen, 重办). Both nullable: existing
tickets have neither (a ticket reopened before this migration keeps its ``reopens`` count
without a time).

Revision ID: 0017_ticket_media_reopen
Revises: 0016_metric_dimension
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_ticket_media_reopen"
down_revision: str | Sequence[str] | None = "0016_metric_dimension"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("media_url", sa.String(length=2000), nullable=True))
        batch.add_column(sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("reopened_at")
        batch.drop_column("media_url")
