"""karyotype override

Why a batch's karyotype whose sex chromosomes differ from the subject's sex is accepted; without
it the release evaluation fails autologous identity (issue 15).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 20:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("product_batch", sa.Column("karyotype_override", sa.Text(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite >= 3.35), as 0010.
    op.drop_column("product_batch", "karyotype_override")
