"""Archives: on PostgreSQL, an index on the person's name in code-point order ("C"), so
that a name-prefix search is an index range whatever the database's collation.

SQLite compares text byte-wise already, so its ``ix_archive_person_name`` serves the same
range and nothing is added there.

Revision ID: 0012_archive_name_prefix
Revises: 0011_archive_extensions
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_archive_name_prefix"
down_revision: str | Sequence[str] | None = "0011_archive_extensions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute('CREATE INDEX ix_archive_person_name_c ON archive_person (name COLLATE "C")')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_archive_person_name_c")
