"""The tables of 民主议事: registers (estates, 专有部分, representatives), matters with their
candidates, rolls, turnout, ballots and 四议 meetings.

Revision ID: 0001_deliberation
Revises:
Create Date: 2026-07-20

Constraint names follow Sanmin's naming convention (``core/db/metadata.py``). Sanmin runs
this history after core's, with the version table ``deliberation_alembic_version``. Never
edit a shipped revision: add a new one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_deliberation"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deliberation_estate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("archive_estate_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_deliberation_estate_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_estate")),
        sa.UniqueConstraint("unit_code", "name", name=op.f("uq_deliberation_estate_unit_code")),
    )
    op.create_index(
        op.f("ix_deliberation_estate_unit_code"), "deliberation_estate", ["unit_code"], unique=False
    )
    op.create_table(
        "deliberation_representative",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_deliberation_representative_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_representative")),
        sa.UniqueConstraint(
            "unit_code", "person_id", name=op.f("uq_deliberation_representative_unit_code")
        ),
    )
    op.create_index(
        op.f("ix_deliberation_representative_unit_code"),
        "deliberation_representative",
        ["unit_code"],
        unique=False,
    )
    op.create_table(
        "deliberation_matter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("matter_type", sa.String(30), nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.String(15), nullable=False),
        sa.Column("village_code", sa.String(15), nullable=False),
        sa.Column("township_code", sa.String(15), nullable=False),
        sa.Column("county_code", sa.String(15), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=True),
        sa.Column("meeting", sa.String(30), nullable=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("quorum", sa.String(12), nullable=False),
        sa.Column("approval", sa.String(12), nullable=False),
        sa.Column("approval_base", sa.String(12), nullable=False),
        sa.Column("by_area", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("allow_change", sa.Boolean(), nullable=False),
        sa.Column("election", sa.Boolean(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("proposer", sa.String(200), nullable=False),
        sa.Column("proposer_account", sa.String(64), nullable=True),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("implementation_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("implemented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("implementation_days", sa.Float(), nullable=True),
        sa.Column("implementation_note", sa.String(1000), nullable=True),
        sa.Column("ballot_key", sa.String(200), nullable=True),
        sa.Column("electorate_heads", sa.Integer(), nullable=True),
        sa.Column("electorate_area", sa.Integer(), nullable=True),
        sa.Column("participant_heads", sa.Integer(), nullable=True),
        sa.Column("participant_area", sa.Integer(), nullable=True),
        sa.Column("quorum_met", sa.Boolean(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("tally", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["estate_id"],
            ["deliberation_estate.id"],
            name=op.f("fk_deliberation_matter_estate_id_deliberation_estate"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name=op.f("fk_deliberation_matter_unit_code_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_matter")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_deliberation_matter_instance_id")),
    )
    op.create_index(
        "ix_deliberation_matter_board",
        "deliberation_matter",
        ["village_code", "public", "state"],
        unique=False,
    )
    op.create_index(
        "ix_deliberation_matter_counted",
        "deliberation_matter",
        ["unit_code", "counted_at"],
        unique=False,
    )
    op.create_index(
        "ix_deliberation_matter_implemented",
        "deliberation_matter",
        ["unit_code", "implemented_at"],
        unique=False,
    )
    op.create_index(
        "ix_deliberation_matter_proposed",
        "deliberation_matter",
        ["unit_code", "proposed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_deliberation_matter_proposer_account"),
        "deliberation_matter",
        ["proposer_account"],
        unique=False,
    )
    op.create_index(
        op.f("ix_deliberation_matter_township_code"),
        "deliberation_matter",
        ["township_code"],
        unique=False,
    )
    op.create_index(
        "ix_deliberation_matter_unit", "deliberation_matter", ["unit_code", "state"], unique=False
    )
    op.create_table(
        "deliberation_parcel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("estate_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(60), nullable=False),
        sa.Column("area", sa.Integer(), nullable=False),
        sa.Column("owner_person_id", sa.Integer(), nullable=False),
        sa.Column("archive_house_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["estate_id"],
            ["deliberation_estate.id"],
            name=op.f("fk_deliberation_parcel_estate_id_deliberation_estate"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_parcel")),
        sa.UniqueConstraint("estate_id", "label", name=op.f("uq_deliberation_parcel_estate_id")),
    )
    op.create_index(
        op.f("ix_deliberation_parcel_estate_id"), "deliberation_parcel", ["estate_id"], unique=False
    )
    op.create_index(
        op.f("ix_deliberation_parcel_owner_person_id"),
        "deliberation_parcel",
        ["owner_person_id"],
        unique=False,
    )
    op.create_table(
        "deliberation_candidate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("statement", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["deliberation_matter.id"],
            name=op.f("fk_deliberation_candidate_matter_id_deliberation_matter"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_candidate")),
        sa.UniqueConstraint(
            "matter_id", "position", name=op.f("uq_deliberation_candidate_matter_id")
        ),
    )
    op.create_table(
        "deliberation_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("form", sa.String(20), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("present", sa.Integer(), nullable=False),
        sa.Column("agree", sa.Integer(), nullable=False),
        sa.Column("against", sa.Integer(), nullable=False),
        sa.Column("abstain", sa.Integer(), nullable=False),
        sa.Column("content", sa.String(1000), nullable=False),
        sa.Column("attendees", sa.String(1000), nullable=False),
        sa.Column("township_attendees", sa.String(500), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["deliberation_matter.id"],
            name=op.f("fk_deliberation_meeting_matter_id_deliberation_matter"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_meeting")),
        sa.UniqueConstraint("matter_id", "step", name=op.f("uq_deliberation_meeting_matter_id")),
    )
    op.create_table(
        "deliberation_voter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("parcels", sa.String(500), nullable=False),
        sa.Column("heads", sa.Integer(), nullable=False),
        sa.Column("area", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["deliberation_matter.id"],
            name=op.f("fk_deliberation_voter_matter_id_deliberation_matter"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_voter")),
        sa.UniqueConstraint("matter_id", "person_id", name=op.f("uq_deliberation_voter_matter_id")),
    )
    op.create_index(
        op.f("ix_deliberation_voter_person_id"), "deliberation_voter", ["person_id"], unique=False
    )
    op.create_table(
        "deliberation_ballot",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.JSON(), nullable=False),
        sa.Column("heads", sa.Integer(), nullable=False),
        sa.Column("area", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=True),
        sa.Column("receipt", sa.String(64), nullable=True),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["deliberation_matter.id"],
            name=op.f("fk_deliberation_ballot_matter_id_deliberation_matter"),
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["deliberation_voter.id"],
            name=op.f("fk_deliberation_ballot_voter_id_deliberation_voter"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_ballot")),
        sa.UniqueConstraint("receipt", "matter_id", name=op.f("uq_deliberation_ballot_receipt")),
        sa.UniqueConstraint("voter_id", "matter_id", name=op.f("uq_deliberation_ballot_voter_id")),
    )
    op.create_index(
        op.f("ix_deliberation_ballot_matter_id"), "deliberation_ballot", ["matter_id"], unique=False
    )
    op.create_table(
        "deliberation_turnout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matter_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["deliberation_matter.id"],
            name=op.f("fk_deliberation_turnout_matter_id_deliberation_matter"),
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["deliberation_voter.id"],
            name=op.f("fk_deliberation_turnout_voter_id_deliberation_voter"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliberation_turnout")),
        sa.UniqueConstraint(
            "matter_id", "voter_id", name=op.f("uq_deliberation_turnout_matter_id")
        ),
    )


def downgrade() -> None:

    op.drop_table("deliberation_turnout")
    op.drop_index(op.f("ix_deliberation_ballot_matter_id"), table_name="deliberation_ballot")
    op.drop_table("deliberation_ballot")
    op.drop_index(op.f("ix_deliberation_voter_person_id"), table_name="deliberation_voter")
    op.drop_table("deliberation_voter")
    op.drop_table("deliberation_meeting")
    op.drop_table("deliberation_candidate")
    op.drop_index(op.f("ix_deliberation_parcel_owner_person_id"), table_name="deliberation_parcel")
    op.drop_index(op.f("ix_deliberation_parcel_estate_id"), table_name="deliberation_parcel")
    op.drop_table("deliberation_parcel")
    op.drop_index("ix_deliberation_matter_unit", table_name="deliberation_matter")
    op.drop_index(op.f("ix_deliberation_matter_township_code"), table_name="deliberation_matter")
    op.drop_index(op.f("ix_deliberation_matter_proposer_account"), table_name="deliberation_matter")
    op.drop_index("ix_deliberation_matter_proposed", table_name="deliberation_matter")
    op.drop_index("ix_deliberation_matter_implemented", table_name="deliberation_matter")
    op.drop_index("ix_deliberation_matter_counted", table_name="deliberation_matter")
    op.drop_index("ix_deliberation_matter_board", table_name="deliberation_matter")
    op.drop_table("deliberation_matter")
    op.drop_index(
        op.f("ix_deliberation_representative_unit_code"), table_name="deliberation_representative"
    )
    op.drop_table("deliberation_representative")
    op.drop_index(op.f("ix_deliberation_estate_unit_code"), table_name="deliberation_estate")
    op.drop_table("deliberation_estate")
