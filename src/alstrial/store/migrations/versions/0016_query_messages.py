"""query messages

The thread of a query: its question, each answer, a re-opening or a cancellation with its
reason, the closing (issue 15). Queries opened before keep their one question and answer.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 21:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["query_id"], ["data_query.id"], name=op.f("fk_query_message_query_id_data_query")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_message")),
    )
    op.create_index(op.f("ix_query_message_query_id"), "query_message", ["query_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_query_message_query_id"), table_name="query_message")
    op.drop_table("query_message")
