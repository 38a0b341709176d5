"""敲门嫂: teams, members, visit plans, visits and needs.

Revision ID: 0001_knock_door_initial
Revises:
Create Date: 2026-11-27

Constraint names follow Sanmin's naming convention (``core/db/metadata.py``). Sanmin runs
this history after core's, with the version table ``knock_door_alembic_version``.
Never edit a shipped revision: add a new one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_knock_door_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (index name, columns), in creation order (dropped in reverse)
INDEXES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "knock_door_team": (("ix_knock_door_team_unit_code", ("unit_code",)),),
    "knock_door_member": (("ix_knock_door_member_team_id", ("team_id",)),),
    "knock_door_plan": (
        ("ix_knock_door_plan_unit_code_due_on", ("unit_code", "due_on")),
        ("ix_knock_door_plan_team_id", ("team_id",)),
        ("ix_knock_door_plan_volunteer", ("volunteer",)),
    ),
    "knock_door_visit": (
        ("ix_knock_door_visit_unit_code", ("unit_code",)),
        ("ix_knock_door_visit_plan_id", ("plan_id",)),
        ("ix_knock_door_visit_person_id", ("person_id",)),
        ("ix_knock_door_visit_visited_on", ("visited_on",)),
    ),
    "knock_door_need": (
        ("ix_knock_door_need_unit_code", ("unit_code",)),
        ("ix_knock_door_need_visit_id", ("visit_id",)),
        ("ix_knock_door_need_found_at", ("found_at",)),
        ("ix_knock_door_need_transferred_at", ("transferred_at",)),
        ("ix_knock_door_need_solved_at", ("solved_at",)),
    ),
}


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length), nullable=nullable)


def _unit(table: str) -> list:  # type: ignore[type-arg]
    return [
        _text("unit_code", 15),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f(f"fk_{table}_unit_code_unit")
        ),
    ]


def _refers(table: str, column: str, target: str, nullable: bool = False) -> list:  # type: ignore[type-arg]
    return [
        sa.Column(column, sa.Integer(), nullable=nullable),
        sa.ForeignKeyConstraint(
            [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "knock_door_team",
        sa.Column("id", sa.Integer(), nullable=False),
        *_unit("knock_door_team"),
        _text("name", 50),
        _text("created_by", 200),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knock_door_team")),
        sa.UniqueConstraint("unit_code", "name", name=op.f("uq_knock_door_team_unit_code")),
    )
    op.create_table(
        "knock_door_member",
        sa.Column("id", sa.Integer(), nullable=False),
        *_refers("knock_door_member", "team_id", "knock_door_team"),
        _text("username", 64),
        _text("display_name", 100),
        _text("role", 16),
        _when("joined_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knock_door_member")),
        sa.UniqueConstraint("team_id", "username", name=op.f("uq_knock_door_member_team_id")),
    )
    op.create_table(
        "knock_door_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        *_unit("knock_door_plan"),
        *_refers("knock_door_plan", "team_id", "knock_door_team", nullable=True),
        _text("volunteer", 64, nullable=True),
        _text("frequency", 8),
        _text("basis", 40),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        _text("status", 16),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        _when("visited_at", nullable=True),
        _when("overdue_at", nullable=True),
        _text("reviewed_by", 200, nullable=True),
        _when("reviewed_at", nullable=True),
        _when("created_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knock_door_plan")),
        sa.UniqueConstraint("person_id", "period_start", name=op.f("uq_knock_door_plan_person_id")),
    )
    op.create_table(
        "knock_door_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        *_refers("knock_door_visit", "plan_id", "knock_door_plan", nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=False),
        *_unit("knock_door_visit"),
        _text("visitor", 200),
        _text("visitor_name", 100),
        _text("submission_key", 128),
        sa.Column("visited_on", sa.Date(), nullable=False),
        _text("method", 8),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("abnormal", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knock_door_visit")),
        sa.UniqueConstraint("record_id", name=op.f("uq_knock_door_visit_record_id")),
        sa.UniqueConstraint("visitor", "submission_key", name=op.f("uq_knock_door_visit_visitor")),
    )
    op.create_table(
        "knock_door_need",
        sa.Column("id", sa.Integer(), nullable=False),
        *_refers("knock_door_need", "visit_id", "knock_door_visit"),
        *_unit("knock_door_need"),
        sa.Column("household_id", sa.Integer(), nullable=False),
        _text("kind", 16),
        _text("title", 100),
        _text("description", 1000),
        _text("reporter_name", 50),
        _text("address", 200),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("transfer", sa.Boolean(), nullable=False),
        _when("found_at"),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        _when("transferred_at", nullable=True),
        _text("ticket_state", 40, nullable=True),
        sa.Column("ticket_version", sa.Integer(), nullable=False),
        _when("solved_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knock_door_need")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_knock_door_need_ticket_id")),
    )
    for table, indexes in INDEXES.items():
        for name, columns in indexes:
            op.create_index(op.f(name), table, list(columns))


def downgrade() -> None:
    for table, indexes in reversed(INDEXES.items()):
        for name, _ in reversed(indexes):
            op.drop_index(op.f(name), table_name=table)
        op.drop_table(table)
