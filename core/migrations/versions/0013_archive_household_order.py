"""Archives: households indexed by (grid, 户号), the order every scoped list and the village
book pages through; it replaces the index on the grid alone, its prefix.

Revision ID: 0013_archive_household_order
Revises: 0012_archive_name_prefix
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_archive_household_order"
down_revision: str | Sequence[str] | None = "0012_archive_name_prefix"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("archive_household") as batch:
        batch.create_index(
            "ix_archive_household_unit_code_number", ["unit_code", "number"], unique=False
        )
        batch.drop_index("ix_archive_household_unit_code")


def downgrade() -> None:
    with op.batch_alter_table("archive_household") as batch:
        batch.create_index("ix_archive_household_unit_code", ["unit_code"], unique=False)
        batch.drop_index("ix_archive_household_unit_code_number")
