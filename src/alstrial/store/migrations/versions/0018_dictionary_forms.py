"""dictionary forms

The generic audited layout of the protocol's own forms (issue 17): a form instance per
filling (subject, visit or none, form, instance number, the protocol version it was checked
against, where the values come from) and one item value per field (text in the field's canonical form, or a missing-data
code with its reason; whether an out-of-soft-range value was confirmed).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("form", sa.String(length=60), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column(
            "provenance",
            sa.Enum(
                "source",
                "publication",
                "synthetic",
                name="provenance",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_form_instance_protocol_version_id_protocol_version"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_form_instance_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_form_instance_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_instance")),
        sa.UniqueConstraint(
            "subject_id", "form", "slot", "instance", name=op.f("uq_form_instance_subject_id")
        ),
    )
    op.create_index(
        op.f("ix_form_instance_subject_id"), "form_instance", ["subject_id"], unique=False
    )
    op.create_index(op.f("ix_form_instance_visit_id"), "form_instance", ["visit_id"], unique=False)
    op.create_table(
        "item_value",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_instance_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("missing_code", sa.String(length=20), nullable=True),
        sa.Column("missing_reason", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_instance_id"],
            ["form_instance.id"],
            name=op.f("fk_item_value_form_instance_id_form_instance"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_item_value_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_item_value_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_value")),
        sa.UniqueConstraint(
            "form_instance_id", "field", name=op.f("uq_item_value_form_instance_id")
        ),
    )
    op.create_index(
        op.f("ix_item_value_form_instance_id"), "item_value", ["form_instance_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_item_value_form_instance_id"), table_name="item_value")
    op.drop_table("item_value")
    op.drop_index(op.f("ix_form_instance_visit_id"), table_name="form_instance")
    op.drop_index(op.f("ix_form_instance_subject_id"), table_name="form_instance")
    op.drop_table("form_instance")
