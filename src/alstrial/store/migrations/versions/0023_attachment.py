"""attachment

The files of dictionary forms' file fields (issue 17): one row per file, never changed or
removed (triggers refuse UPDATE and DELETE, as for the audit trail); the audited item value
that names it holds ``attachment:<id>``.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

MESSAGE = "attachment is append-only"


def upgrade() -> None:
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_attachment_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment")),
    )
    op.create_index(op.f("ix_attachment_subject_id"), "attachment", ["subject_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION alstrial_attachment_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER attachment_append_only BEFORE UPDATE OR DELETE ON attachment "
            "FOR EACH ROW EXECUTE FUNCTION alstrial_attachment_append_only()"
        )
        op.execute(
            "CREATE TRIGGER attachment_no_truncate BEFORE TRUNCATE ON attachment "
            "FOR EACH STATEMENT EXECUTE FUNCTION alstrial_attachment_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER attachment_no_{action.lower()} BEFORE {action} ON attachment "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER attachment_no_truncate ON attachment")
        op.execute("DROP TRIGGER attachment_append_only ON attachment")
        op.execute("DROP FUNCTION alstrial_attachment_append_only()")
    else:
        op.execute("DROP TRIGGER attachment_no_update")
        op.execute("DROP TRIGGER attachment_no_delete")
    op.drop_index(op.f("ix_attachment_subject_id"), table_name="attachment")
    op.drop_table("attachment")
