"""cell product batch record

The batch record of an autologous product (target subject, aspiration, MNC count, seeding,
harvest, viability method, concentration, volume, excipient, release status), its culture
events, its flow cytometry marker results and QC's signed release decision. Existing batches
start as pending.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 18:08:35.646198
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "culture_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "seeding",
                "medium_change",
                "passage",
                "harvest",
                name="culture_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("passage_number", sa.Integer(), nullable=True),
        sa.Column("confluence_pct", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "confluence_pct IS NULL OR confluence_pct BETWEEN 0 AND 100",
            name=op.f("ck_culture_event_confluence_range"),
        ),
        sa.CheckConstraint(
            "passage_number IS NULL OR passage_number >= 0",
            name=op.f("ck_culture_event_passage_range"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["product_batch.id"], name=op.f("fk_culture_event_batch_id_product_batch")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_culture_event")),
    )
    with op.batch_alter_table("culture_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_culture_event_batch_id"), ["batch_id"], unique=False)

    op.create_table(
        "flow_marker_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("marker", sa.String(length=40), nullable=False),
        sa.Column("percent_positive", sa.Double(), nullable=False),
        sa.Column("isotype_percent", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("stained_sha256", sa.String(length=64), nullable=True),
        sa.Column("isotype_sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "provenance",
            sa.Enum(
                "source",
                "publication",
                "synthetic",
                name="provenance",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "percent_positive BETWEEN 0 AND 100", name=op.f("ck_flow_marker_result_percent_range")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["product_batch.id"],
            name=op.f("fk_flow_marker_result_batch_id_product_batch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_marker_result")),
        sa.UniqueConstraint("batch_id", "marker", name=op.f("uq_flow_marker_result_batch_id")),
    )
    with op.batch_alter_table("flow_marker_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_flow_marker_result_batch_id"), ["batch_id"], unique=False
        )

    op.create_table(
        "release_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "pending",
                "released",
                "rejected",
                name="release_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("signed_by_id", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evaluation", sa.JSON(), nullable=False),
        sa.Column("deviations", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["product_batch.id"],
            name=op.f("fk_release_decision_batch_id_product_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"],
            ["app_user.id"],
            name=op.f("fk_release_decision_signed_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_decision")),
        sa.UniqueConstraint("batch_id", name=op.f("uq_release_decision_batch_id")),
    )
    with op.batch_alter_table("product_batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_subject_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("aspiration_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("aspiration_volume_ml", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("mnc_count", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("seeding_density_per_cm2", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("harvest_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("viability_method", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("viability_by_method", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("concentration_per_ml", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("product_volume_ml", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("excipient", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "release_status",
                sa.Enum(
                    "pending",
                    "released",
                    "rejected",
                    name="release_status",
                    native_enum=False,
                    create_constraint=True,
                ),
                nullable=False,
                server_default="pending",
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_product_batch_target_subject_id_subject"),
            "subject",
            ["target_subject_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("product_batch", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_product_batch_target_subject_id_subject"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("ck_product_batch_release_status"), type_="check")
        batch_op.drop_column("release_status")
        batch_op.drop_column("excipient")
        batch_op.drop_column("product_volume_ml")
        batch_op.drop_column("concentration_per_ml")
        batch_op.drop_column("viability_by_method")
        batch_op.drop_column("viability_method")
        batch_op.drop_column("harvest_date")
        batch_op.drop_column("seeding_density_per_cm2")
        batch_op.drop_column("mnc_count")
        batch_op.drop_column("aspiration_volume_ml")
        batch_op.drop_column("aspiration_date")
        batch_op.drop_column("target_subject_id")

    op.drop_table("release_decision")
    with op.batch_alter_table("flow_marker_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_marker_result_batch_id"))

    op.drop_table("flow_marker_result")
    with op.batch_alter_table("culture_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_culture_event_batch_id"))

    op.drop_table("culture_event")
