"""lab safety review

The review of a laboratory value graded at or above the protocol's alert grade: an adverse
event reported from it, or why it is not one (issue 15).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 20:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lab_safety_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lab_result_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("adverse_event_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=80), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["adverse_event_id"],
            ["adverse_event.id"],
            name=op.f("fk_lab_safety_review_adverse_event_id_adverse_event"),
        ),
        sa.ForeignKeyConstraint(
            ["lab_result_id"],
            ["lab_result.id"],
            name=op.f("fk_lab_safety_review_lab_result_id_lab_result"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_safety_review")),
        sa.UniqueConstraint("lab_result_id", name=op.f("uq_lab_safety_review_lab_result_id")),
    )


def downgrade() -> None:
    op.drop_table("lab_safety_review")
