"""Metric aggregates split by a dimension (a ticket's type): ``metric_daily.dimension``.

The daily aggregates are derived data, so the table is made anew with the dimension in its
primary key and every metric's freshness is reset: the next refresh (the hourly job
``metrics.refresh_daily``) recomputes them from the records. Until then readers compute
every value live, so figures stay right.

Revision ID: 0016_metric_dimension
Revises: 0015_ticket_due
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_metric_dimension"
down_revision: str | Sequence[str] | None = "0015_ticket_due"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _daily(with_dimension: bool) -> None:
    columns = [
        sa.Column("metric", sa.String(length=120), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
    ]
    key = ["metric", "unit_code", "day"]
    if with_dimension:
        columns.append(sa.Column("dimension", sa.String(length=64), nullable=False))
        key.append("dimension")
    op.drop_index("ix_metric_daily_metric_day", table_name="metric_daily")
    op.drop_table("metric_daily")
    op.create_table(
        "metric_daily",
        *columns,
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name=op.f("pk_metric_daily")),
    )
    op.create_index("ix_metric_daily_metric_day", "metric_daily", ["metric", "day"], unique=False)
    op.execute("DELETE FROM metric_refresh")


def upgrade() -> None:
    _daily(with_dimension=True)


def downgrade() -> None:
    _daily(with_dimension=False)
