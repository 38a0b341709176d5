"""Forms.

Revision ID: 0003_forms
Revises: 0002_identities
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_forms"
down_revision: str | Sequence[str] | None = "0002_identities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "form_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plugin", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["account.id"], name=op.f("fk_form_record_author_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_form_record_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_record")),
        sa.UniqueConstraint("author", "idempotency_key", name="uq_form_record_author_key"),
    )
    with op.batch_alter_table("form_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_form_record_plugin_form_unit", ["plugin", "form", "unit_code"], unique=False
        )
        batch_op.create_index(
            "ix_form_record_subject", ["subject_kind", "subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("form_record", schema=None) as batch_op:
        batch_op.drop_index("ix_form_record_subject")
        batch_op.drop_index("ix_form_record_plugin_form_unit")
    op.drop_table("form_record")
