"""Archives: housing, places, vehicles, property management.

Revision ID: 0008_archive_categories
Revises: 0007_archives
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_archive_categories"
down_revision: str | Sequence[str] | None = "0007_archives"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> its indexed columns, in creation order (dropped in reverse).
INDEXES: dict[str, tuple[str, ...]] = {
    "archive_property_company": ("name", "unit_code"),
    "archive_estate": ("name", "property_company_id", "unit_code"),
    "archive_owners_committee": ("estate_id",),
    "archive_house": ("estate_id", "household_id", "unit_code"),
    "archive_place": ("name", "unit_code"),
    "archive_vehicle": ("household_id", "owner_id"),
}


def _record_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def _fk(table: str, column: str, target: str, key: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{key}"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def _unit(table: str) -> list:  # type: ignore[type-arg]
    return [
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        _fk(table, "unit_code", "unit", "code"),
    ]


def upgrade() -> None:
    op.create_table(
        "archive_property_company",
        sa.Column("id", sa.Integer(), nullable=False),
        *_record_columns(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("contact_name", sa.String(length=50), nullable=True),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        *_unit("archive_property_company"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_property_company")),
    )
    op.create_table(
        "archive_estate",
        sa.Column("id", sa.Integer(), nullable=False),
        *_record_columns(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("building_count", sa.Integer(), nullable=True),
        sa.Column("house_count", sa.Integer(), nullable=True),
        sa.Column("completed_year", sa.Integer(), nullable=True),
        sa.Column("property_company_id", sa.Integer(), nullable=True),
        sa.Column("contract_start", sa.Date(), nullable=True),
        sa.Column("contract_end", sa.Date(), nullable=True),
        *_unit("archive_estate"),
        _fk("archive_estate", "property_company_id", "archive_property_company", "id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_estate")),
    )
    op.create_table(
        "archive_owners_committee",
        sa.Column("id", sa.Integer(), nullable=False),
        *_record_columns(),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("chair_name", sa.String(length=50), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        _fk("archive_owners_committee", "estate_id", "archive_estate", "id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_owners_committee")),
    )
    op.create_table(
        "archive_house",
        sa.Column("id", sa.Integer(), nullable=False),
        *_record_columns(),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=True),
        sa.Column("building", sa.String(length=20), nullable=True),
        sa.Column("entrance", sa.String(length=10), nullable=True),
        sa.Column("floor", sa.Integer(), nullable=True),
        sa.Column("room", sa.String(length=20), nullable=True),
        sa.Column("usage", sa.String(length=16), nullable=False),
        sa.Column("residence_type", sa.String(length=16), nullable=True),
        sa.Column("floor_area", sa.Float(), nullable=True),
        sa.Column("built_year", sa.Integer(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        *_unit("archive_house"),
        _fk("archive_house", "estate_id", "archive_estate", "id"),
        _fk("archive_house", "household_id", "archive_household", "id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_house")),
    )
    op.create_table(
        "archive_place",
        sa.Column("id", sa.Integer(), nullable=False),
        *_record_columns(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("manager_name", sa.String(length=50), nullable=True),
        sa.Column("manager_phone", sa.String(length=20), nullable=True),
        sa.Column("employees", sa.Integer(), nullable=True),
        sa.Column("hazardous", sa.Boolean(), nullable=False),
        sa.Column("opening_hours", sa.String(length=100), nullable=True),
        *_unit("archive_place"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_place")),
    )
    op.create_table(
        "archive_vehicle",
        sa.Column("id", sa.Integer(), nullable=False),
        *_record_columns(),
        sa.Column("plate", sa.String(length=10), nullable=False),
        sa.Column("brand", sa.String(length=50), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("energy", sa.String(length=16), nullable=True),
        sa.Column("usage", sa.String(length=16), nullable=False),
        sa.Column("parking_space", sa.String(length=20), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        _fk("archive_vehicle", "household_id", "archive_household", "id"),
        _fk("archive_vehicle", "owner_id", "archive_person", "id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_vehicle")),
        sa.UniqueConstraint("plate", name=op.f("uq_archive_vehicle_plate")),
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
        op.drop_table(table)
