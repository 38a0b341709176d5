"""The tables of 民情直通车: calls, trips, their crews and tickets, on-site records, ledgers.

Revision ID: 0001_mobile_office
Revises:
Create Date: 2026-03-01

Constraint names follow Sanmin's naming convention (``core/db/metadata.py``). Sanmin runs
this history after core's, with the version table ``mobile_office_alembic_version``.
Never edit a shipped revision: add a new one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_mobile_office"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mobile_office_trip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("destination", sa.String(200), nullable=False),
        sa.Column("vehicle", sa.String(50), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("leader", sa.String(200), nullable=False),
        sa.Column("leader_name", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _moment("created_at", nullable=False),
        _moment("departed_at"),
        _moment("arrived_at"),
        _moment("returned_at"),
        _moment("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_office_trip")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_mobile_office_trip_unit_code_unit")
        ),
        sa.UniqueConstraint("instance_id", name=op.f("uq_mobile_office_trip_instance_id")),
    )
    op.create_index(op.f("ix_mobile_office_trip_unit_code"), "mobile_office_trip", ["unit_code"])
    op.create_index(
        op.f("ix_mobile_office_trip_departed_at"), "mobile_office_trip", ["departed_at"]
    )
    op.create_index(
        "ix_mobile_office_trip_day", "mobile_office_trip", ["township_code", "created_at"]
    )

    op.create_table(
        "mobile_office_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("intake_key", sa.String(300), nullable=True),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("caller_name", sa.String(50), nullable=False),
        sa.Column("caller_phone", sa.String(20), nullable=False),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("also_12345", sa.Boolean(), nullable=False),
        sa.Column("repeat_of_id", sa.Integer(), nullable=True),
        _moment("received_at", nullable=False),
        sa.Column("received_by", sa.String(200), nullable=False),
        sa.Column("operator_name", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _moment("due_at"),
        _moment("triaged_at"),
        sa.Column("triaged_by", sa.String(200), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("trip_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        _moment("arrived_at"),
        sa.Column("arrival_minutes", sa.Float(), nullable=True),
        _moment("outcome_at"),
        sa.Column("promised_on", sa.Date(), nullable=True),
        _moment("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_office_call")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_mobile_office_call_unit_code_unit")
        ),
        sa.ForeignKeyConstraint(
            ["repeat_of_id"],
            ["mobile_office_call.id"],
            name=op.f("fk_mobile_office_call_repeat_of_id_mobile_office_call"),
        ),
        sa.ForeignKeyConstraint(
            ["trip_id"],
            ["mobile_office_trip.id"],
            name=op.f("fk_mobile_office_call_trip_id_mobile_office_trip"),
        ),
        sa.UniqueConstraint("instance_id", name=op.f("uq_mobile_office_call_instance_id")),
        sa.UniqueConstraint("intake_key", name=op.f("uq_mobile_office_call_intake_key")),
    )
    for column in ("unit_code", "received_at", "trip_id", "ticket_id"):
        op.create_index(op.f(f"ix_mobile_office_call_{column}"), "mobile_office_call", [column])
    op.create_index(
        "ix_mobile_office_call_day", "mobile_office_call", ["township_code", "received_at"]
    )
    op.create_index("ix_mobile_office_call_board", "mobile_office_call", ["township_code", "state"])

    op.create_table(
        "mobile_office_trip_crew",
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("trip_id", "account_id", name=op.f("pk_mobile_office_trip_crew")),
        sa.ForeignKeyConstraint(
            ["trip_id"],
            ["mobile_office_trip.id"],
            name=op.f("fk_mobile_office_trip_crew_trip_id_mobile_office_trip"),
        ),
    )
    op.create_index("ix_mobile_office_trip_crew_account", "mobile_office_trip_crew", ["account_id"])

    op.create_table(
        "mobile_office_trip_ticket",
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("trip_id", "ticket_id", name=op.f("pk_mobile_office_trip_ticket")),
        sa.ForeignKeyConstraint(
            ["trip_id"],
            ["mobile_office_trip.id"],
            name=op.f("fk_mobile_office_trip_ticket_trip_id_mobile_office_trip"),
        ),
    )

    op.create_table(
        "mobile_office_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trip_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("parties", sa.String(200), nullable=True),
        sa.Column("actions", sa.Text(), nullable=True),
        sa.Column("result", sa.String(12), nullable=False),
        sa.Column("promised_on", sa.Date(), nullable=True),
        sa.Column("meeting_place", sa.String(100), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        _moment("recorded_at", nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorder_name", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_office_record")),
        sa.ForeignKeyConstraint(
            ["trip_id"],
            ["mobile_office_trip.id"],
            name=op.f("fk_mobile_office_record_trip_id_mobile_office_trip"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["mobile_office_call.id"],
            name=op.f("fk_mobile_office_record_call_id_mobile_office_call"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_mobile_office_record_unit_code_unit")
        ),
        sa.UniqueConstraint("call_id", name=op.f("uq_mobile_office_record_call_id")),
    )
    for column in ("trip_id", "unit_code", "recorded_at"):
        op.create_index(op.f(f"ix_mobile_office_record_{column}"), "mobile_office_record", [column])

    op.create_table(
        "mobile_office_ledger",
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("scheduled", sa.Integer(), nullable=False),
        sa.Column("transferred", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        _moment("closed_at"),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("closer_name", sa.String(100), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        _moment("reopened_at"),
        sa.PrimaryKeyConstraint("township_code", "day", name=op.f("pk_mobile_office_ledger")),
        sa.ForeignKeyConstraint(
            ["township_code"],
            ["unit.code"],
            name=op.f("fk_mobile_office_ledger_township_code_unit"),
        ),
    )


def downgrade() -> None:
    op.drop_table("mobile_office_ledger")
    op.drop_table("mobile_office_record")
    op.drop_table("mobile_office_trip_ticket")
    op.drop_table("mobile_office_trip_crew")
    op.drop_table("mobile_office_call")
    op.drop_table("mobile_office_trip")
