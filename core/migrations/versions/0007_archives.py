"""Resident archives: households, persons and the demo archive key.

Revision ID: 0007_archives
Revises: 0006_metrics
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_archives"
down_revision: str | Sequence[str] | None = "0006_metrics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _record_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "archive_household",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_archive_household_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_household")),
        sa.UniqueConstraint("number", name=op.f("uq_archive_household_number")),
    )
    with op.batch_alter_table("archive_household", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_archive_household_unit_code"), ["unit_code"], unique=False
        )

    op.create_table(
        "archive_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("gender", sa.String(length=8), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_cipher", sa.String(length=80), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        *_record_columns(),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["archive_household.id"],
            name=op.f("fk_archive_person_household_id_archive_household"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_archive_person_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_person")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_archive_person_id_hash")),
    )
    with op.batch_alter_table("archive_person", schema=None) as batch_op:
        for column in ("name", "phone", "household_id", "unit_code"):
            batch_op.create_index(
                batch_op.f(f"ix_archive_person_{column}"), [column], unique=False
            )

    op.create_table(
        "archive_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_key")),
    )


def downgrade() -> None:
    op.drop_table("archive_key")
    with op.batch_alter_table("archive_person", schema=None) as batch_op:
        for column in ("unit_code", "household_id", "phone", "name"):
            batch_op.drop_index(batch_op.f(f"ix_archive_person_{column}"))
    op.drop_table("archive_person")
    with op.batch_alter_table("archive_household", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_archive_household_unit_code"))
    op.drop_table("archive_household")
