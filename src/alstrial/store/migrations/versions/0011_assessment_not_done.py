"""assessment not done

A scheduled assessment of a visit that was not done, with the reason: with the assessments
recorded it makes a visit complete, and only a complete visit can be signed (issue 15).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 20:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_not_done",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("assessment", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_assessment_not_done_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_not_done")),
        sa.UniqueConstraint("visit_id", "assessment", name=op.f("uq_assessment_not_done_visit_id")),
    )
    op.create_index(
        op.f("ix_assessment_not_done_visit_id"), "assessment_not_done", ["visit_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_assessment_not_done_visit_id"), table_name="assessment_not_done")
    op.drop_table("assessment_not_done")
