"""query cancel reason

Why the monitor who opened a query withdrew it unanswered; the query then counts as closed
(issue 15).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("data_query", sa.Column("cancel_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("data_query", "cancel_reason")
