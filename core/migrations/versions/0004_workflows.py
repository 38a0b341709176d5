"""Workflows: instances with a version, and their append-only history.

Revision ID: 0004_workflows
Revises: 0003_forms
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_workflows"
down_revision: str | Sequence[str] | None = "0003_forms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HISTORY_GUARD = """
CREATE OR REPLACE FUNCTION sanmin_workflow_history_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'workflow_history is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workflow_history_append_only
    BEFORE UPDATE OR DELETE ON workflow_history
    FOR EACH ROW EXECUTE FUNCTION sanmin_workflow_history_append_only();
CREATE TRIGGER workflow_history_no_truncate
    BEFORE TRUNCATE ON workflow_history
    FOR EACH STATEMENT EXECUTE FUNCTION sanmin_workflow_history_append_only();
"""

SQLITE_HISTORY_GUARD = (
    """CREATE TRIGGER workflow_history_no_update BEFORE UPDATE ON workflow_history
       BEGIN SELECT RAISE(ABORT, 'workflow_history is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER workflow_history_no_delete BEFORE DELETE ON workflow_history
       BEGIN SELECT RAISE(ABORT, 'workflow_history is append-only: DELETE refused'); END""",
)


def upgrade() -> None:
    op.create_table(
        "workflow_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plugin", sa.String(length=40), nullable=False),
        sa.Column("workflow", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("township_code", sa.String(length=15), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_workflow_instance_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_instance")),
        sa.UniqueConstraint(
            "plugin", "workflow", "subject", name=op.f("uq_workflow_instance_plugin")
        ),
    )
    with op.batch_alter_table("workflow_instance", schema=None) as batch_op:
        batch_op.create_index(
            "ix_workflow_instance_listing", ["plugin", "workflow", "unit_code"], unique=False
        )
        batch_op.create_index(
            "ix_workflow_instance_state", ["plugin", "workflow", "state"], unique=False
        )
        for column in ("unit_code", "township_code", "due_at"):
            batch_op.create_index(
                batch_op.f(f"ix_workflow_instance_{column}"), [column], unique=False
            )

    op.create_table(
        "workflow_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(length=40), nullable=True),
        sa.Column("from_state", sa.String(length=40), nullable=True),
        sa.Column("to_state", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["workflow_instance.id"],
            name=op.f("fk_workflow_history_instance_id_workflow_instance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_history")),
        sa.UniqueConstraint(
            "instance_id", "version", name=op.f("uq_workflow_history_instance_id")
        ),
    )
    with op.batch_alter_table("workflow_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_history_instance_id"), ["instance_id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(HISTORY_GUARD)
    else:
        for statement in SQLITE_HISTORY_GUARD:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS workflow_history_no_truncate ON workflow_history")
        op.execute("DROP TRIGGER IF EXISTS workflow_history_append_only ON workflow_history")
        op.execute("DROP FUNCTION IF EXISTS sanmin_workflow_history_append_only()")
    op.drop_table("workflow_history")
    op.drop_table("workflow_instance")
