"""Tickets (为民办事): the ticket, its idempotency keys, comments, photos and reminders.

Revision ID: 0014_tickets
Revises: 0013_archive_household_order
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_tickets"
down_revision: str | Sequence[str] | None = "0013_archive_household_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("nature", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("township_code", sa.String(length=15), nullable=False),
        sa.Column("origin_code", sa.String(length=15), nullable=False),
        sa.Column("county_code", sa.String(length=15), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("reporter_account_id", sa.Integer(), nullable=True),
        sa.Column("reporter_name", sa.String(length=100), nullable=True),
        sa.Column("reporter_phone", sa.String(length=20), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("reported_by", sa.String(length=200), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handle_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_on_time", sa.Boolean(), nullable=True),
        sa.Column("resolved_on_time", sa.Boolean(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("resolved_level", sa.Integer(), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.String(length=12), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("rating_comment", sa.String(length=500), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("public_summary", sa.String(length=500), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["archive_household.id"],
            name=op.f("fk_ticket_household_id_archive_household"),
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["workflow_instance.id"],
            name=op.f("fk_ticket_instance_id_workflow_instance"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_account_id"],
            ["account.id"],
            name=op.f("fk_ticket_reporter_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_ticket_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_ticket_instance_id")),
    )
    op.create_index(
        "ix_ticket_county_submitted", "ticket", ["county_code", "submitted_at"], unique=False
    )
    op.create_index("ix_ticket_inbox", "ticket", ["unit_code", "state", "due_at"], unique=False)
    op.create_index(op.f("ix_ticket_origin_code"), "ticket", ["origin_code"], unique=False)
    op.create_index("ix_ticket_public", "ticket", ["public", "published_at"], unique=False)
    op.create_index(
        "ix_ticket_reporter", "ticket", ["reporter_account_id", "submitted_at"], unique=False
    )
    op.create_index(op.f("ix_ticket_type"), "ticket", ["type"], unique=False)
    op.create_table(
        "ticket_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_attachment_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachment")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_ticket_attachment_stored_name")),
    )
    op.create_index(
        op.f("ix_ticket_attachment_ticket_id"), "ticket_attachment", ["ticket_id"], unique=False
    )
    op.create_table(
        "ticket_comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_comment_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comment")),
    )
    op.create_index(
        op.f("ix_ticket_comment_ticket_id"), "ticket_comment", ["ticket_id"], unique=False
    )
    op.create_table(
        "ticket_idempotency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_idempotency_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_idempotency")),
        sa.UniqueConstraint("actor", "key", name=op.f("uq_ticket_idempotency_actor")),
    )
    op.create_table(
        "ticket_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=15), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_ticket_reminder_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_reminder")),
        sa.UniqueConstraint(
            "ticket_id", "version", "threshold", name=op.f("uq_ticket_reminder_ticket_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("ticket_reminder")
    op.drop_table("ticket_idempotency")
    op.drop_index(op.f("ix_ticket_comment_ticket_id"), table_name="ticket_comment")
    op.drop_table("ticket_comment")
    op.drop_index(op.f("ix_ticket_attachment_ticket_id"), table_name="ticket_attachment")
    op.drop_table("ticket_attachment")
    op.drop_index(op.f("ix_ticket_type"), table_name="ticket")
    op.drop_index("ix_ticket_reporter", table_name="ticket")
    op.drop_index("ix_ticket_public", table_name="ticket")
    op.drop_index(op.f("ix_ticket_origin_code"), table_name="ticket")
    op.drop_index("ix_ticket_inbox", table_name="ticket")
    op.drop_index("ix_ticket_county_submitted", table_name="ticket")
    op.drop_table("ticket")
