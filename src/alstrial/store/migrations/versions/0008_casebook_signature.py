"""casebook signature

An investigator's signature on a subject's whole casebook, which locks its data.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "casebook_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.Column("meaning", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["signed_by_id"],
            ["app_user.id"],
            name=op.f("fk_casebook_signature_signed_by_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_casebook_signature_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_casebook_signature")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_casebook_signature_subject_id")),
    )


def downgrade() -> None:
    op.drop_table("casebook_signature")
