"""data_export.attached_files

An export may carry the subjects' attached files (issue 17: the scans and letters of the
protocol's file fields), which are personal documents: the record of each export says how
many it carried, so that the trail shows who took documents out. Exports made before hold
no count (NULL), which is not the same as none.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 09:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("data_export") as batch:
        batch.add_column(sa.Column("attached_files", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("data_export") as batch:
        batch.drop_column("attached_files")
