"""named cut

Named data cuts (issue 19): a name, the last audit event the cut holds and its time, and
the purpose; audited.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "named_cut",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data_as_of", sa.DateTime(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_named_cut")),
        sa.UniqueConstraint("name", name=op.f("uq_named_cut_name")),
    )


def downgrade() -> None:
    op.drop_table("named_cut")
