"""safety records

Laboratory results (as entered and in the canonical unit, with range, flag and CTCAE grade)
and categorical tests (serology, virology, urinalysis, culture), vital signs, MRI
examinations and findings, investigators' decisions on triggered stopping rules, SAE
notifications, the per-visit checklist review, and the adverse event's seriousness criteria,
relatedness by procedure, expectedness, action taken, onset time and MedDRA code.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 18:32:25.106548
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
        "checklist_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("none_reported", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_checklist_review_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checklist_review")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_checklist_review_visit_id")),
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
        "mri_exam",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("exam_date", sa.Date(), nullable=False),
        sa.Column("regions", sa.String(length=40), nullable=False),
        sa.Column("sequences", sa.String(length=200), nullable=False),
        sa.Column("normal", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_mri_exam_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_mri_exam_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mri_exam")),
    )
    with op.batch_alter_table("mri_exam", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mri_exam_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "qualitative_lab_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("sample_date", sa.Date(), nullable=False),
        sa.Column("panel", sa.String(length=20), nullable=False),
        sa.Column("test", sa.String(length=60), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_qualitative_lab_result_subject_id_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_qualitative_lab_result_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualitative_lab_result")),
        sa.UniqueConstraint("visit_id", "test", name=op.f("uq_qualitative_lab_result_visit_id")),
    )
    with op.batch_alter_table("qualitative_lab_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qualitative_lab_result_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "sae_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adverse_event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("recipient", sa.String(length=80), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["adverse_event_id"],
            ["adverse_event.id"],
            name=op.f("fk_sae_notification_adverse_event_id_adverse_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sae_notification")),
    )
    with op.batch_alter_table("sae_notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sae_notification_adverse_event_id"), ["adverse_event_id"], unique=False
        )

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

    op.create_table(
        "mri_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=False),
        sa.Column("sequence", sa.String(length=40), nullable=False),
        sa.Column("abnormality", sa.String(length=200), nullable=False),
        sa.Column("mass", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("new", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["mri_exam.id"], name=op.f("fk_mri_finding_exam_id_mri_exam")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mri_finding")),
    )
    with op.batch_alter_table("mri_finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mri_finding_exam_id"), ["exam_id"], unique=False)

    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("onset_time", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("seriousness", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("relatedness_by_procedure", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("expected", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("action_taken", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("meddra_code", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.drop_column("meddra_code")
        batch_op.drop_column("action_taken")
        batch_op.drop_column("expected")
        batch_op.drop_column("relatedness_by_procedure")
        batch_op.drop_column("seriousness")
        batch_op.drop_column("onset_time")

    with op.batch_alter_table("mri_finding", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mri_finding_exam_id"))

    op.drop_table("mri_finding")
    with op.batch_alter_table("vital_signs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vital_signs_subject_id"))

    op.drop_table("vital_signs")
    with op.batch_alter_table("sae_notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sae_notification_adverse_event_id"))

    op.drop_table("sae_notification")
    with op.batch_alter_table("qualitative_lab_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qualitative_lab_result_subject_id"))

    op.drop_table("qualitative_lab_result")
    with op.batch_alter_table("mri_exam", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mri_exam_subject_id"))

    op.drop_table("mri_exam")
    with op.batch_alter_table("lab_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lab_result_subject_id"))

    op.drop_table("lab_result")
    op.drop_table("checklist_review")
    op.drop_table("stopping_decision")
