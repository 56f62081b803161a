"""source verification per record

A form can save several records at one visit (a laboratory value per analyte, vital signs
before and after an infusion). A verification now names the record it covers
(``record_id``), and is unique per record and field instead of per visit, table and field.

Verifications made before keep ``record_id`` empty: each covered the first record of its
table at its visit (the one the read-only page showed). They are not rewritten, since a
change of stored data outside the audited services would break ``alstrial audit verify``;
the readers apply that rule (:mod:`alstrial.services.verification`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_verification") as batch:
        batch.add_column(sa.Column("record_id", sa.Integer(), nullable=True))
        batch.drop_constraint("uq_source_verification_visit_id", type_="unique")
        batch.create_unique_constraint(
            "uq_source_verification_record_table", ["record_table", "record_id", "field"]
        )


def downgrade() -> None:
    several = op.get_bind().execute(
        sa.text(
            "SELECT count(*) FROM (SELECT visit_id FROM source_verification "
            "GROUP BY visit_id, record_table, field HAVING count(*) > 1) AS doubled"
        )
    )
    if several.scalar_one():
        raise RuntimeError(
            "cannot downgrade below 0017: some visits have several records of one form "
            "verified, which the older schema cannot hold"
        )
    with op.batch_alter_table("source_verification") as batch:
        batch.drop_constraint("uq_source_verification_record_table", type_="unique")
        batch.create_unique_constraint(
            "uq_source_verification_visit_id", ["visit_id", "record_table", "field"]
        )
        batch.drop_column("record_id")
