"""The tables of 红色代办: the catalogue, the roster, orders, 委托书 and the hand-over log.

Revision ID: 0001_red_proxy
Revises:
Create Date: 2026-07-01

Constraint names follow Sanmin's naming convention (``core/db/metadata.py``). Sanmin runs
this history after core's, with the version table ``red_proxy_alembic_version``. Never edit
a shipped revision: add a new one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_red_proxy"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "red_proxy_agent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_red_proxy_agent_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_proxy_agent")),
        sa.UniqueConstraint("username", "unit_code", name=op.f("uq_red_proxy_agent_username")),
    )
    op.create_index(
        op.f("ix_red_proxy_agent_unit_code"), "red_proxy_agent", ["unit_code"], unique=False
    )
    op.create_table(
        "red_proxy_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("time_limit_days", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("fee", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("needs_authorization", sa.Boolean(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_red_proxy_item_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_proxy_item")),
        sa.UniqueConstraint("unit_code", "name", name=op.f("uq_red_proxy_item_unit_code")),
    )
    op.create_index(
        op.f("ix_red_proxy_item_unit_code"), "red_proxy_item", ["unit_code"], unique=False
    )
    op.create_table(
        "red_proxy_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("item_name", sa.String(100), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("needs_authorization", sa.Boolean(), nullable=False),
        sa.Column("time_limit_days", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("county_code", sa.String(15), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requester_account", sa.String(64), nullable=True),
        sa.Column("requester_name", sa.String(50), nullable=False),
        sa.Column("requester_phone", sa.String(20), nullable=False),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("need", sa.String(500), nullable=True),
        sa.Column("preferred_time", sa.String(100), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("assignee_name", sa.String(100), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("complete_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_on_time", sa.Boolean(), nullable=True),
        sa.Column("hours_taken", sa.Float(), nullable=True),
        sa.Column("result", sa.String(1000), nullable=True),
        sa.Column("delivery", sa.String(20), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.String(12), nullable=True),
        sa.Column("rating_comment", sa.String(500), nullable=True),
        sa.Column("send_backs", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["red_proxy_item.id"],
            name=op.f("fk_red_proxy_order_item_id_red_proxy_item"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_red_proxy_order_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_proxy_order")),
        sa.UniqueConstraint(
            "created_by", "idempotency_key", name=op.f("uq_red_proxy_order_created_by")
        ),
        sa.UniqueConstraint("instance_id", name=op.f("uq_red_proxy_order_instance_id")),
    )
    op.create_index(
        op.f("ix_red_proxy_order_assignee"), "red_proxy_order", ["assignee"], unique=False
    )
    op.create_index(
        "ix_red_proxy_order_board",
        "red_proxy_order",
        ["unit_code", "state", "due_at"],
        unique=False,
    )
    op.create_index(
        "ix_red_proxy_order_done", "red_proxy_order", ["unit_code", "done_at"], unique=False
    )
    op.create_index(
        "ix_red_proxy_order_ordered", "red_proxy_order", ["unit_code", "ordered_at"], unique=False
    )
    op.create_index(
        "ix_red_proxy_order_rated", "red_proxy_order", ["unit_code", "rated_at"], unique=False
    )
    op.create_index(
        op.f("ix_red_proxy_order_requester_account"),
        "red_proxy_order",
        ["requester_account"],
        unique=False,
    )
    op.create_table(
        "red_proxy_authorization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("principal", sa.String(50), nullable=False),
        sa.Column("agent_name", sa.String(100), nullable=False),
        sa.Column("matters", sa.String(200), nullable=False),
        sa.Column("powers", sa.String(500), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("sign_method", sa.String(20), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["red_proxy_order.id"],
            name=op.f("fk_red_proxy_authorization_order_id_red_proxy_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_proxy_authorization")),
        sa.UniqueConstraint("order_id", name=op.f("uq_red_proxy_authorization_order_id")),
    )
    op.create_table(
        "red_proxy_handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("what", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("from_party", sa.String(100), nullable=False),
        sa.Column("to_party", sa.String(100), nullable=False),
        sa.Column("handed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["red_proxy_order.id"],
            name=op.f("fk_red_proxy_handover_order_id_red_proxy_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_proxy_handover")),
    )
    op.create_index(
        op.f("ix_red_proxy_handover_order_id"), "red_proxy_handover", ["order_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_red_proxy_handover_order_id"), table_name="red_proxy_handover")
    op.drop_table("red_proxy_handover")
    op.drop_table("red_proxy_authorization")
    op.drop_index(op.f("ix_red_proxy_order_requester_account"), table_name="red_proxy_order")
    op.drop_index("ix_red_proxy_order_rated", table_name="red_proxy_order")
    op.drop_index("ix_red_proxy_order_ordered", table_name="red_proxy_order")
    op.drop_index("ix_red_proxy_order_done", table_name="red_proxy_order")
    op.drop_index("ix_red_proxy_order_board", table_name="red_proxy_order")
    op.drop_index(op.f("ix_red_proxy_order_assignee"), table_name="red_proxy_order")
    op.drop_table("red_proxy_order")
    op.drop_index(op.f("ix_red_proxy_item_unit_code"), table_name="red_proxy_item")
    op.drop_table("red_proxy_item")
    op.drop_index(op.f("ix_red_proxy_agent_unit_code"), table_name="red_proxy_agent")
    op.drop_table("red_proxy_agent")
