"""Archives: import runs started from the admin page.

Revision ID: 0010_archive_imports
Revises: 0009_archive_care
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_archive_imports"
down_revision: str | Sequence[str] | None = "0009_archive_care"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN = "archive_import_run"
INDEXED = ("status", "unit_code")


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        RUN,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("rows_done", "inserted", "updated", "unchanged", "rejected")
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        _when("claimed_until"),
        _when("created_at", nullable=False),
        _when("started_at"),
        _when("finished_at"),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_archive_import_run_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_import_run")),
    )
    with op.batch_alter_table(RUN, schema=None) as batch_op:
        for column in INDEXED:
            batch_op.create_index(batch_op.f(f"ix_{RUN}_{column}"), [column], unique=False)
    op.create_table(
        "archive_import_file",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], [f"{RUN}.id"], name=op.f("fk_archive_import_file_run_id_archive_import_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "kind", name=op.f("pk_archive_import_file")),
    )


def downgrade() -> None:
    op.drop_table("archive_import_file")
    with op.batch_alter_table(RUN, schema=None) as batch_op:
        for column in reversed(INDEXED):
            batch_op.drop_index(batch_op.f(f"ix_{RUN}_{column}"))
    op.drop_table(RUN)
