"""clinical instruments: ALSFRS scale, GLI results, ethnic group

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 17:40:00

- ``alsfrs_assessment``: items 11 and 12 may be empty (the original ALSFRS has 10 items), and a
  constraint ties the items present and the total's range to ``scale_version``.
- ``spirometry``: predicted litres, z-score and LLN of the reference equation.
- ``subject``: the GLI-2012 ethnic group (a reference-equation category).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SCALE_RULE = (
    "(scale_version = 'ALSFRS-R' AND item_11 IS NOT NULL AND item_12 IS NOT NULL "
    "AND total BETWEEN 0 AND 48) OR (scale_version = 'ALSFRS' AND item_11 IS NULL "
    "AND item_12 IS NULL AND total BETWEEN 0 AND 40)"
)


def upgrade() -> None:
    with op.batch_alter_table("alsfrs_assessment", schema=None) as batch_op:
        batch_op.alter_column("item_11", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("item_12", existing_type=sa.Integer(), nullable=True)
        batch_op.create_check_constraint(op.f("ck_alsfrs_assessment_scale_items"), SCALE_RULE)
    with op.batch_alter_table("spirometry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("predicted_litres", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("z_score", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("lln_litres", sa.Double(), nullable=True))
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ethnicity", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_column("ethnicity")
    with op.batch_alter_table("spirometry", schema=None) as batch_op:
        batch_op.drop_column("lln_litres")
        batch_op.drop_column("z_score")
        batch_op.drop_column("predicted_litres")
    with op.batch_alter_table("alsfrs_assessment", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_alsfrs_assessment_scale_items"), type_="check")
        batch_op.alter_column("item_12", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("item_11", existing_type=sa.Integer(), nullable=False)
