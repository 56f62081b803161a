"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 15:05:10.120366
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
APPEND_ONLY_MESSAGE = "audit_event is append-only"


def _create_append_only_triggers() -> None:
    """Refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit events in the database."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION alstrial_audit_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION alstrial_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION alstrial_audit_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{action.lower()} BEFORE {action} ON audit_event "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION alstrial_audit_append_only()")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("DROP TRIGGER audit_event_no_delete")


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=6), nullable=False),
        sa.Column("entity", sa.String(length=60), nullable=False),
        sa.Column("record_id", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_entity"), ["entity"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("code", name=op.f("uq_site_code")),
    )
    op.create_table(
        "study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("sponsor", sa.String(length=200), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("registrations", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study")),
        sa.UniqueConstraint("code", name=op.f("uq_study_code")),
    )
    op.create_table(
        "protocol_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_protocol_version_study_id_study")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_version")),
        sa.UniqueConstraint("study_id", "version", name=op.f("uq_protocol_version_study_id")),
    )
    op.create_table(
        "subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("study_code", sa.String(length=40), nullable=False),
        sa.Column(
            "sex",
            sa.Enum("male", "female", name="sex", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("age_years", sa.Integer(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("height_cm", sa.Double(), nullable=True),
        sa.Column("weight_kg", sa.Double(), nullable=True),
        sa.Column(
            "onset_region",
            sa.Enum(
                "bulbar",
                "limb",
                "respiratory",
                "other",
                name="onset_region",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("onset_date", sa.Date(), nullable=True),
        sa.Column("diagnosis_date", sa.Date(), nullable=True),
        sa.Column(
            "diagnostic_category",
            sa.Enum(
                "definite",
                "probable",
                "probable_laboratory_supported",
                "possible",
                name="diagnostic_category",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("riluzole", sa.Boolean(), nullable=False),
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
        sa.CheckConstraint("age_years BETWEEN 0 AND 120", name=op.f("ck_subject_age_range")),
        sa.CheckConstraint(
            "height_cm IS NULL OR height_cm BETWEEN 50 AND 250",
            name=op.f("ck_subject_height_range"),
        ),
        sa.CheckConstraint(
            "weight_kg IS NULL OR weight_kg BETWEEN 10 AND 300",
            name=op.f("ck_subject_weight_range"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_subject_site_id_site")),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], name=op.f("fk_subject_study_id_study")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject")),
        sa.UniqueConstraint("study_id", "study_code", name=op.f("uq_subject_study_id")),
    )
    op.create_table(
        "adverse_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("onset_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("severity_grade", sa.Integer(), nullable=False),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column(
            "relatedness",
            sa.Enum(
                "not_related",
                "unlikely",
                "possible",
                "probable",
                "definite",
                name="relatedness",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attributed_to", sa.String(length=200), nullable=False),
        sa.Column("treatment", sa.Text(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "recovered",
                "recovering",
                "not_recovered",
                "recovered_with_sequelae",
                "fatal",
                "unknown",
                name="ae_outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
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
            "end_date IS NULL OR end_date >= onset_date",
            name=op.f("ck_adverse_event_end_after_onset"),
        ),
        sa.CheckConstraint(
            "severity_grade BETWEEN 1 AND 5", name=op.f("ck_adverse_event_grade_range")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_adverse_event_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event")),
    )
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_adverse_event_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "disposition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "completed",
                "lost_to_follow_up",
                "withdrawn",
                "died",
                name="disposition_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("disposition_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
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
            ["subject_id"], ["subject.id"], name=op.f("fk_disposition_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_disposition_subject_id")),
    )
    op.create_table(
        "milestone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "gastrostomy",
                "niv",
                "tracheostomy",
                "death",
                name="milestone_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
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
            ["subject_id"], ["subject.id"], name=op.f("fk_milestone_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestone")),
        sa.UniqueConstraint("subject_id", "kind", name=op.f("uq_milestone_subject_id")),
    )
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_milestone_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "product_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_code", sa.String(length=60), nullable=False),
        sa.Column("source_subject_id", sa.Integer(), nullable=False),
        sa.Column("final_cell_count", sa.Double(), nullable=False),
        sa.Column("viability_pct", sa.Double(), nullable=False),
        sa.Column("bacteriology", sa.String(length=40), nullable=False),
        sa.Column("mycoplasma", sa.String(length=40), nullable=False),
        sa.Column("endotoxin_eu_per_ml", sa.Double(), nullable=False),
        sa.Column("endotoxin_below_loq", sa.Boolean(), nullable=False),
        sa.Column("karyotype", sa.String(length=40), nullable=False),
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
            "endotoxin_eu_per_ml >= 0", name=op.f("ck_product_batch_endotoxin_nonnegative")
        ),
        sa.CheckConstraint("final_cell_count > 0", name=op.f("ck_product_batch_count_positive")),
        sa.CheckConstraint(
            "viability_pct BETWEEN 0 AND 100", name=op.f("ck_product_batch_viability_range")
        ),
        sa.ForeignKeyConstraint(
            ["source_subject_id"],
            ["subject.id"],
            name=op.f("fk_product_batch_source_subject_id_subject"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_batch")),
        sa.UniqueConstraint("batch_code", name=op.f("uq_product_batch_batch_code")),
    )
    with op.batch_alter_table("product_batch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_batch_source_subject_id"), ["source_subject_id"], unique=False
        )

    op.create_table(
        "screening",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("protocol_version_id", sa.Integer(), nullable=False),
        sa.Column("screening_date", sa.Date(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["protocol_version_id"],
            ["protocol_version.id"],
            name=op.f("fk_screening_protocol_version_id_protocol_version"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_screening_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening")),
    )
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screening_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("planned_date", sa.Date(), nullable=False),
        sa.Column("window_start", sa.Date(), nullable=False),
        sa.Column("window_end", sa.Date(), nullable=False),
        sa.Column("actual_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "done",
                "missed",
                name="visit_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "window_status",
            sa.Enum(
                "early",
                "in_window",
                "late",
                name="window_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_visit_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("subject_id", "code", name=op.f("uq_visit_subject_id")),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "administration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("administered_at", sa.DateTime(), nullable=False),
        sa.Column("route", sa.String(length=20), nullable=False),
        sa.Column("product_batch_id", sa.Integer(), nullable=False),
        sa.Column("cells_given", sa.Double(), nullable=False),
        sa.Column("volume_ml", sa.Double(), nullable=False),
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
        sa.CheckConstraint("cells_given > 0", name=op.f("ck_administration_cells_positive")),
        sa.CheckConstraint("volume_ml > 0", name=op.f("ck_administration_volume_positive")),
        sa.ForeignKeyConstraint(
            ["product_batch_id"],
            ["product_batch.id"],
            name=op.f("fk_administration_product_batch_id_product_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_administration_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_administration_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_administration")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_administration_visit_id")),
    )
    with op.batch_alter_table("administration", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_administration_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "alsfrs_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("scale_version", sa.String(length=20), nullable=False),
        sa.Column("item_1", sa.Integer(), nullable=False),
        sa.Column("item_2", sa.Integer(), nullable=False),
        sa.Column("item_3", sa.Integer(), nullable=False),
        sa.Column("item_4", sa.Integer(), nullable=False),
        sa.Column("item_5a", sa.Integer(), nullable=True),
        sa.Column("item_5b", sa.Integer(), nullable=True),
        sa.Column("item_6", sa.Integer(), nullable=False),
        sa.Column("item_7", sa.Integer(), nullable=False),
        sa.Column("item_8", sa.Integer(), nullable=False),
        sa.Column("item_9", sa.Integer(), nullable=False),
        sa.Column("item_10", sa.Integer(), nullable=False),
        sa.Column("item_11", sa.Integer(), nullable=False),
        sa.Column("item_12", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
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
            "(item_1 IS NULL OR item_1 BETWEEN 0 AND 4) AND (item_2 IS NULL OR item_2 BETWEEN 0 AND 4) AND (item_3 IS NULL OR item_3 BETWEEN 0 AND 4) AND (item_4 IS NULL OR item_4 BETWEEN 0 AND 4) AND (item_5a IS NULL OR item_5a BETWEEN 0 AND 4) AND (item_5b IS NULL OR item_5b BETWEEN 0 AND 4) AND (item_6 IS NULL OR item_6 BETWEEN 0 AND 4) AND (item_7 IS NULL OR item_7 BETWEEN 0 AND 4) AND (item_8 IS NULL OR item_8 BETWEEN 0 AND 4) AND (item_9 IS NULL OR item_9 BETWEEN 0 AND 4) AND (item_10 IS NULL OR item_10 BETWEEN 0 AND 4) AND (item_11 IS NULL OR item_11 BETWEEN 0 AND 4) AND (item_12 IS NULL OR item_12 BETWEEN 0 AND 4)",
            name=op.f("ck_alsfrs_assessment_item_range"),
        ),
        sa.CheckConstraint(
            "(item_5a IS NULL) <> (item_5b IS NULL)", name=op.f("ck_alsfrs_assessment_one_item_5")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_alsfrs_assessment_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_alsfrs_assessment_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alsfrs_assessment")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_alsfrs_assessment_visit_id")),
    )
    with op.batch_alter_table("alsfrs_assessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alsfrs_assessment_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("screening_id", sa.Integer(), nullable=False),
        sa.Column("arm_code", sa.String(length=20), nullable=False),
        sa.Column("enrolment_date", sa.Date(), nullable=False),
        sa.Column("planned_administration_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["screening_id"], ["screening.id"], name=op.f("fk_enrolment_screening_id_screening")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_enrolment_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_enrolment_subject_id")),
    )
    op.create_table(
        "spirometry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("assessment_date", sa.Date(), nullable=False),
        sa.Column("fvc_litres", sa.Double(), nullable=False),
        sa.Column("percent_predicted", sa.Double(), nullable=True),
        sa.Column("equation", sa.String(length=40), nullable=False),
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
            "fvc_litres > 0 AND fvc_litres <= 10", name=op.f("ck_spirometry_fvc_range")
        ),
        sa.CheckConstraint(
            "percent_predicted IS NULL OR percent_predicted BETWEEN 0 AND 200",
            name=op.f("ck_spirometry_percent_range"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_spirometry_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_spirometry_visit_id_visit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spirometry")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_spirometry_visit_id")),
    )
    with op.batch_alter_table("spirometry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spirometry_subject_id"), ["subject_id"], unique=False)

    op.execute(
        sa.text(
            "INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, :genesis)"
        ).bindparams(genesis=GENESIS_HASH)
    )
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table("spirometry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spirometry_subject_id"))

    op.drop_table("spirometry")
    op.drop_table("enrolment")
    with op.batch_alter_table("alsfrs_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alsfrs_assessment_subject_id"))

    op.drop_table("alsfrs_assessment")
    with op.batch_alter_table("administration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_administration_subject_id"))

    op.drop_table("administration")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_subject_id"))

    op.drop_table("visit")
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_subject_id"))

    op.drop_table("screening")
    with op.batch_alter_table("product_batch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_batch_source_subject_id"))

    op.drop_table("product_batch")
    with op.batch_alter_table("milestone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_milestone_subject_id"))

    op.drop_table("milestone")
    op.drop_table("disposition")
    with op.batch_alter_table("adverse_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_adverse_event_subject_id"))

    op.drop_table("adverse_event")
    op.drop_table("subject")
    op.drop_table("protocol_version")
    op.drop_table("study")
    op.drop_table("site")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_entity"))

    op.drop_table("audit_event")
    op.drop_table("app_user")
