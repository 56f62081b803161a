"""audit event MAC

Each audit event carries HMAC-SHA-256 of its hash under a key that lives outside the database
(``ALSTRIAL_AUDIT_KEY``): whoever can write the database but not read the key cannot append
or rewrite events that ``alstrial audit verify --key`` accepts (issue 14).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("mac", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite >= 3.35): a batch copy of the table would lose its
    # append-only triggers.
    op.drop_column("audit_event", "mac")
