"""Archives: plugin extension fields on persons and households, and the household timeline.

``extra`` (JSON, ``{}`` by default) on ``archive_household`` and ``archive_person`` holds the
values of plugins' extension fields, namespaced by plugin. The index on ``audit_entry``'s
target lets the household file read the entries about one household and its members
without scanning the audit log.

Revision ID: 0011_archive_extensions
Revises: 0010_archive_imports
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_archive_extensions"
down_revision: str | Sequence[str] | None = "0010_archive_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("archive_household", "archive_person")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table, sa.Column("extra", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    op.create_index("ix_audit_entry_target", "audit_entry", ["target_type", "target_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entry_target", table_name="audit_entry")
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("extra")
