"""source verification

A monitor's source data verification of a visit record or one of its fields; a later change
to a verified value removes it in the same audited transaction (issue 15).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 20:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("record_table", sa.String(length=60), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("verified_by", sa.String(length=80), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_source_verification_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_verification")),
        sa.UniqueConstraint(
            "visit_id", "record_table", "field", name=op.f("uq_source_verification_visit_id")
        ),
    )
    op.create_index(
        op.f("ix_source_verification_visit_id"), "source_verification", ["visit_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_source_verification_visit_id"), table_name="source_verification")
    op.drop_table("source_verification")
