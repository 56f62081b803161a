"""accounts

Web accounts: each user's role, argon2 password hash, active flag and login throttling, and
the sites whose subjects the user may see. Existing users become monitors (read-only) without
a password until an administrator sets one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 18:49:03.257642
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_user_site_site_id_site")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_site_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_site")),
        sa.UniqueConstraint("user_id", "site_id", name=op.f("uq_user_site_user_id")),
    )
    with op.batch_alter_table("user_site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_site_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "role",
                sa.Enum(
                    "administrator",
                    "investigator",
                    "coordinator",
                    "qc",
                    "monitor",
                    "statistician",
                    name="role",
                    native_enum=False,
                    create_constraint=True,
                ),
                nullable=False,
                server_default="monitor",
            )
        )
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")
        batch_op.drop_column("active")
        batch_op.drop_column("password_hash")
        batch_op.drop_constraint(batch_op.f("ck_app_user_role"), type_="check")
        batch_op.drop_column("role")

    with op.batch_alter_table("user_site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_site_user_id"))

    op.drop_table("user_site")
