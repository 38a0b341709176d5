"""Archives: special groups and care levels.

Revision ID: 0009_archive_care
Revises: 0008_archive_categories
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_archive_care"
down_revision: str | Sequence[str] | None = "0008_archive_categories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its indexed columns, in creation order (dropped in reverse).
INDEXES: dict[str, tuple[str, ...]] = {
    "archive_person_tag": ("person_id",),
    "archive_care_assessment": ("person_id", "level", "current"),
    "archive_care_override": ("person_id",),
}


def _person(table: str) -> list:  # type: ignore[type-arg]
    return [
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["archive_person.id"],
            name=op.f(f"fk_{table}_person_id_archive_person"),
        ),
    ]


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "archive_person_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        *_person("archive_person_tag"),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("assigned_by", sa.String(length=120), nullable=False),
        _when("assigned_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_person_tag")),
        sa.UniqueConstraint("person_id", "tag", name=op.f("uq_archive_person_tag_person_id")),
    )
    op.create_table(
        "archive_care_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        *_person("archive_care_profile"),
        sa.Column("children", sa.String(length=16), nullable=False),
        sa.Column("adl", sa.String(length=16), nullable=False),
        sa.Column("risk", sa.Boolean(), nullable=False),
        sa.Column("econ", sa.String(length=16), nullable=False),
        _when("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_care_profile")),
        sa.UniqueConstraint("person_id", name=op.f("uq_archive_care_profile_person_id")),
    )
    op.create_table(
        "archive_care_threshold",
        sa.Column("county_code", sa.String(length=15), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "elderly_age",
                "red_alone_age",
                "yellow_alone_age",
                "red_visit_days",
                "yellow_visit_days",
                "green_visit_days",
            )
        ),
        _when("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["county_code"], ["unit.code"], name=op.f("fk_archive_care_threshold_county_code_unit")
        ),
        sa.PrimaryKeyConstraint("county_code", name=op.f("pk_archive_care_threshold")),
    )
    op.create_table(
        "archive_care_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        *_person("archive_care_assessment"),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_care_assessment")),
    )
    op.create_table(
        "archive_care_override",
        sa.Column("id", sa.Integer(), nullable=False),
        *_person("archive_care_override"),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=120), nullable=False),
        _when("proposed_at"),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        _when("decided_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_care_override")),
    )
    for table, columns in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table, columns in reversed(INDEXES.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(columns):
                batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
    for table in (
        "archive_care_override",
        "archive_care_assessment",
        "archive_care_threshold",
        "archive_care_profile",
        "archive_person_tag",
    ):
        op.drop_table(table)
