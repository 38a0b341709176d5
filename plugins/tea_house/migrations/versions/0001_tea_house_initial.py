"""The tables of 民情茶馆: schedules, sessions, the duty roster and issues.

Revision ID: 7e1a0c3b5d21
Revises:
Create Date: 2026-03-10

Constraint names follow Sanmin's naming convention (``core/db/metadata.py``). Sanmin runs
this history after core's, with the version table ``tea_house_alembic_version``. Never edit
a shipped revision: add a new one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7e1a0c3b5d21"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _unit(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["unit_code"], ["unit.code"], name=op.f(f"fk_{table}_unit_code_unit")
    )


def _session(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["tea_house_session.id"], name=op.f(f"fk_{table}_{column}_tea_house_session")
    )


def upgrade() -> None:
    op.create_table(
        "tea_house_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("day_of_month", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("venue", sa.String(100), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        _moment("updated_at", nullable=False),
        _unit("tea_house_schedule"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tea_house_schedule")),
        sa.UniqueConstraint("unit_code", name=op.f("uq_tea_house_schedule_unit_code")),
    )
    op.create_index(
        op.f("ix_tea_house_schedule_township_code"), "tea_house_schedule", ["township_code"]
    )
    op.create_table(
        "tea_house_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("start_time", sa.String(5), nullable=False),
        sa.Column("venue", sa.String(100), nullable=False),
        sa.Column("topics", sa.String(500), nullable=True),
        sa.Column("host", sa.String(50), nullable=True),
        sa.Column("recorder", sa.String(50), nullable=True),
        sa.Column("cadres", sa.String(200), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attendance", sa.Integer(), nullable=False),
        sa.Column("leaders", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.String(200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("announced_by", sa.String(200), nullable=False),
        _moment("announced_at", nullable=False),
        _moment("opened_at"),
        _moment("closed_at"),
        _unit("tea_house_session"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tea_house_session")),
        sa.UniqueConstraint(
            "unit_code", "kind", "held_on", name=op.f("uq_tea_house_session_unit_code")
        ),
    )
    op.create_index(op.f("ix_tea_house_session_held_on"), "tea_house_session", ["held_on"])
    op.create_index(
        op.f("ix_tea_house_session_township_code"), "tea_house_session", ["township_code"]
    )
    op.create_index("ix_tea_house_session_unit_held", "tea_house_session", ["unit_code", "held_on"])
    op.create_table(
        "tea_house_duty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        _moment("signed_at", nullable=False),
        _session("tea_house_duty", "session_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tea_house_duty")),
        sa.UniqueConstraint("session_id", "actor", name=op.f("uq_tea_house_duty_session_id")),
    )
    op.create_index(op.f("ix_tea_house_duty_session_id"), "tea_house_duty", ["session_id"])
    op.create_table(
        "tea_house_issue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("category", sa.String(10), nullable=False),
        sa.Column("summary", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reporter_name", sa.String(50), nullable=True),
        sa.Column("reporter_phone", sa.String(20), nullable=True),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("responsible", sa.String(50), nullable=True),
        sa.Column("promised_by", sa.Date(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("ticket_state", sa.String(40), nullable=True),
        sa.Column("ticket_version", sa.Integer(), nullable=False),
        _moment("solved_at"),
        sa.Column("reported_session_id", sa.Integer(), nullable=True),
        _moment("reported_at"),
        sa.Column("client_key", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _moment("raised_at", nullable=False),
        _moment("decided_at"),
        _session("tea_house_issue", "reported_session_id"),
        _session("tea_house_issue", "session_id"),
        _unit("tea_house_issue"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tea_house_issue")),
        sa.UniqueConstraint("session_id", "client_key", name=op.f("uq_tea_house_issue_session_id")),
    )
    for column in (
        "raised_at",
        "reported_at",
        "session_id",
        "solved_at",
        "ticket_id",
        "township_code",
        "unit_code",
    ):
        op.create_index(op.f(f"ix_tea_house_issue_{column}"), "tea_house_issue", [column])


def downgrade() -> None:
    op.drop_table("tea_house_issue")
    op.drop_table("tea_house_duty")
    op.drop_table("tea_house_session")
    op.drop_table("tea_house_schedule")
