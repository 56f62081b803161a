"""data export

The record of each export (issue 19): format, cut, the time and audit event the data are as
of, the number of files and the SHA-256 of the manifest; audited, so the trail names who
took which data out.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("data_cut", sa.String(length=60), nullable=False),
        sa.Column("data_as_of", sa.DateTime(), nullable=False),
        sa.Column("audit_head_seq", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_export")),
    )


def downgrade() -> None:
    op.drop_table("data_export")
