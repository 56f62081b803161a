"""flow histogram

The stained and isotype histograms behind an identity result, for the report's Fig. 2
(issue 18, item 3).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 04:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("flow_marker_result", sa.Column("histogram", sa.JSON(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite >= 3.35), as 0010.
    op.drop_column("flow_marker_result", "histogram")
