"""safety records

Laboratory results (as entered and in the canonical unit, with range, flag and CTCAE grade),
vital signs, and investigators' decisions on triggered stopping rules.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 18:24:42.979769
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stopping_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=40), nullable=False),
        sa.Column("events_seen", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["app_user.id"],
            name=op.f("fk_stopping_decision_decided_by_id_app_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stopping_decision")),
    )
    op.create_table(
        "lab_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("sample_date", sa.Date(), nullable=False),
        sa.Column("analyte", sa.String(length=20), nullable=False),
        sa.Column("value_entered", sa.Double(), nullable=False),
        sa.Column("unit_entered", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("lln", sa.Double(), nullable=True),
        sa.Column("uln", sa.Double(), nullable=True),
        sa.Column("flag", sa.String(length=2), nullable=False),
        sa.Column("ctcae_grade", sa.Integer(), nullable=True),
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
            "ctcae_grade IS NULL OR ctcae_grade BETWEEN 0 AND 4",
            name=op.f("ck_lab_result_grade_range"),
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_lab_result_value_nonnegative")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_lab_result_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_lab_result_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lab_result")),
        sa.UniqueConstraint("visit_id", "analyte", name=op.f("uq_lab_result_visit_id")),
    )
    with op.batch_alter_table("lab_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lab_result_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "vital_signs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("measured_at", sa.DateTime(), nullable=False),
        sa.Column("systolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("diastolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("heart_rate_bpm", sa.Integer(), nullable=True),
        sa.Column("respiratory_rate", sa.Integer(), nullable=True),
        sa.Column("temperature_c", sa.Double(), nullable=True),
        sa.Column("spo2_pct", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
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
            "diastolic_mmhg IS NULL OR diastolic_mmhg BETWEEN 20 AND 200",
            name=op.f("ck_vital_signs_diastolic_range"),
        ),
        sa.CheckConstraint(
            "heart_rate_bpm IS NULL OR heart_rate_bpm BETWEEN 20 AND 250",
            name=op.f("ck_vital_signs_heart_rate_range"),
        ),
        sa.CheckConstraint(
            "systolic_mmhg IS NULL OR systolic_mmhg BETWEEN 40 AND 300",
            name=op.f("ck_vital_signs_systolic_range"),
        ),
        sa.CheckConstraint(
            "temperature_c IS NULL OR temperature_c BETWEEN 30 AND 45",
            name=op.f("ck_vital_signs_temperature_range"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_vital_signs_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_vital_signs_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vital_signs")),
    )
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vital_signs_subject_id"), ["subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vital_signs_subject_id"))

    op.drop_table("vital_signs")
    with op.batch_alter_table("lab_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_result_subject_id"))

    op.drop_table("lab_result")
    op.drop_table("stopping_decision")
