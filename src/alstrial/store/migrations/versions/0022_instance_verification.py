"""source verification of dictionary form instances

A monitor verifies a dictionary form's instance (``record_table`` ``form_instance``) as he
verifies a built-in visit record, whole or field by field (issue 17). A subject-level form
(medical history, concomitant medication) belongs to no visit, so ``visit_id`` may now be
empty; every verification made before names its visit and is kept as it is.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_verification") as batch:
        batch.alter_column("visit_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    without = op.get_bind().execute(
        sa.text("SELECT count(*) FROM source_verification WHERE visit_id IS NULL")
    )
    if without.scalar_one():
        raise RuntimeError(
            "cannot downgrade below 0022: some verifications cover forms entered once per "
            "subject, at no visit, which the older schema cannot hold"
        )
    with op.batch_alter_table("source_verification") as batch:
        batch.alter_column("visit_id", existing_type=sa.Integer(), nullable=False)
