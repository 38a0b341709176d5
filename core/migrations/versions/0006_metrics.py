"""Metric daily aggregates.

Revision ID: 0006_metrics
Revises: 0005_events_jobs
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_metrics"
down_revision: str | Sequence[str] | None = "0005_events_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_daily",
        sa.Column("metric", sa.String(length=120), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("metric", "unit_code", "day", name=op.f("pk_metric_daily")),
    )
    with op.batch_alter_table("metric_daily", schema=None) as batch_op:
        batch_op.create_index("ix_metric_daily_metric_day", ["metric", "day"], unique=False)

    op.create_table(
        "metric_refresh",
        sa.Column("metric", sa.String(length=120), nullable=False),
        sa.Column("fresh_through", sa.Date(), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("metric", name=op.f("pk_metric_refresh")),
    )


def downgrade() -> None:
    op.drop_table("metric_refresh")
    with op.batch_alter_table("metric_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_daily_metric_day")
    op.drop_table("metric_daily")
