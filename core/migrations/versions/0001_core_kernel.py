"""Kernel tables: units, plugin settings, config version, audit log.

Revision ID: 0001_core_kernel
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_core_kernel"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_GUARD = """
CREATE OR REPLACE FUNCTION sanmin_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_entry is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_entry_append_only
    BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION sanmin_audit_append_only();
CREATE TRIGGER audit_entry_no_truncate
    BEFORE TRUNCATE ON audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION sanmin_audit_append_only();
"""

SQLITE_AUDIT_GUARD = (
    """CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only: DELETE refused'); END""",
)


def upgrade() -> None:
    op.create_table(
        "unit",
        sa.Column("code", sa.String(15), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(10), nullable=False),
        sa.Column("parent_code", sa.String(15), sa.ForeignKey("unit.code"), nullable=True),
        sa.Column("path", sa.String(15), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_unit")),
    )
    op.create_index(op.f("ix_unit_path"), "unit", ["path"], unique=True)
    op.create_index(op.f("ix_unit_parent_code"), "unit", ["parent_code"])
    op.create_index(op.f("ix_unit_level"), "unit", ["level"])

    op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_version")),
    )
    op.bulk_insert(
        sa.table("config_version", sa.column("id", sa.Integer), sa.column("version", sa.Integer)),
        [{"id": 1, "version": 0}],
    )

    op.create_table(
        "plugin_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("plugin", sa.String(40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plugin_setting")),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_plugin_setting_unit_code_unit")
        ),
        sa.UniqueConstraint("unit_code", "plugin", name=op.f("uq_plugin_setting_unit_code")),
    )
    op.create_index(op.f("ix_plugin_setting_unit_code"), "plugin_setting", ["unit_code"])

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target_type", sa.String(100), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    for column in ("at", "actor", "action", "unit_code"):
        op.create_index(op.f(f"ix_audit_entry_{column}"), "audit_entry", [column])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(AUDIT_GUARD)
    else:
        for statement in SQLITE_AUDIT_GUARD:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry")
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS sanmin_audit_append_only()")
    op.drop_table("audit_entry")
    op.drop_table("plugin_setting")
    op.drop_table("config_version")
    op.drop_table("unit")
