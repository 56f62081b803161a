"""The HTML report: every element, the synthetic label, and nothing fetched from outside."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from alstrial.reporting.report import build_report, render_html
from alstrial.services import build_analysis_frames
from alstrial.store import make_session_factory


def test_report_has_every_element_and_the_label(demo_session: Session, tmp_path: Path) -> None:
    report = build_report(build_analysis_frames(demo_session))
    html = render_html(report)
    for anchor in ("flow", "table1", "table2", "table3", "figure3", "anova"):
        assert f'id="{anchor}"' in html
    assert 'id="synthetic-notice"' in html
    assert html.count("SYNTHETIC DATA") >= 4
    assert html.count("<svg") == 3  # Fig. 3, each patient's course, Kaplan-Meier
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "Hypotension" in html
    assert "Improved after treatment" in html


def test_anova_runs_on_the_full_analysis_set(demo_session: Session) -> None:
    """P06 and P14 have no rating after the administration: they are outside the full
    analysis set, which the ANOVA uses (issue 18, item 6)."""
    report = build_report(build_analysis_frames(demo_session))
    assert report.analysis_sets is not None
    full = report.analysis_sets.members["full"]
    assert full is not None
    assert {"P06", "P14"}.isdisjoint(full)
    assert len(full) == 12
    for result in report.anovas.values():
        assert result.n_subjects == 12
        assert result.excluded_subjects == ()
        assert {e.effect for e in result.effects} == {"visit", "arm", "arm:visit"}
        assert result.effect("visit").p < 0.001


def test_progression_sections(demo_session: Session) -> None:
    """Pre/post slopes for every patient (P06 and P14 have no rating after administration),
    stages within 0-5, ENCALS medians, each section labelled synthetic."""
    report = build_report(build_analysis_frames(demo_session))
    alsfrs = report.pre_post["ALSFRS-R total (points)"]
    assert len(alsfrs) == 14
    assert set(alsfrs.loc[alsfrs["note"] != "", "subject"]) == {"P06", "P14"}
    fitted = alsfrs[alsfrs["note"] == ""]
    assert (fitted["difference"] - (fitted["post"] - fitted["pre"])).abs().max() < 1e-9
    assert (
        (fitted["ci_low"] < fitted["difference"]) & (fitted["difference"] < fitted["ci_high"])
    ).all()
    stages = report.stages
    assert len(stages) == 14
    assert set(stages["kings_last"]) <= {"0", "1", "2", "3", "4", "5"}
    assert (report.encals["median_months"] > 0).all()
    html = render_html(report)
    for anchor in ("pre-post", "stages", "encals"):
        section = html[html.index(f'id="{anchor}"') :][:300]
        assert "SYNTHETIC DATA" in section
    assert "not verified against the paper" in html


def test_analyses_the_paper_lacked(demo_session: Session) -> None:
    """MMRM per outcome (an estimable structure found), piecewise slopes per arm, and
    time to death or tracheostomy; each section labelled synthetic."""
    report = build_report(build_analysis_frames(demo_session))
    for summary in report.mmrms.values():
        assert summary.fit is not None, summary.note
        assert summary.differences["visit"].tolist() == ["M2", "M4", "M6", "M12"]
        assert set(summary.type3["effect"]) == {"baseline", "arm", "visit", "arm:visit"}
    for table in report.piecewise.values():
        assert set(table["arm"]) == {"IT", "IV"}
        for arm in ("IT", "IV"):
            rows = table[table["arm"] == arm].set_index("slope")["estimate"]
            assert abs(rows["after"] - rows["before"] - rows["change"]) < 1e-9
    assert report.survival.table["events"].sum() == 2  # P01 died; P13's tracheostomy (Table 1)
    html = render_html(report)
    for anchor in ("mmrm", "piecewise", "survival"):
        assert "SYNTHETIC DATA" in html[html.index(f'id="{anchor}"') :][:300]


def test_safety_section(demo_session: Session) -> None:
    """Events by category and grade (Table 3's events), no SAE, lab shifts labelled synthetic."""
    report = build_report(build_analysis_frames(demo_session))
    assert report.ae_grades["events"].sum() == 5
    assert report.saes.empty
    assert set(report.lab_shifts) == {"ALT", "ANC", "AST", "CREAT", "HGB", "PLT"}
    html = render_html(report)
    section = html[html.index('id="safety"') :][:3000]
    assert "SYNTHETIC DATA" in section


def test_the_report_on_any_trial_state(engine: Engine, tmp_path: Path) -> None:
    # Issue 15: `alstrial report` ended in KeyError 'nominal_day' on an empty trial and in a
    # ValueError from the RM-ANOVA with one subject. Each analysis that cannot run yet now
    # says why in its section.
    import warnings

    from alstrial.reporting.report import write_report
    from alstrial.services import build_analysis_frames
    from tests.helpers import enrolled

    with make_session_factory(engine)() as session, warnings.catch_warnings():
        warnings.simplefilter("error")
        empty = write_report(build_analysis_frames(session), tmp_path / "empty.html").read_text()
        enrolled(session, "S01")
        one = write_report(build_analysis_frames(session), tmp_path / "one.html").read_text()
    for text in (empty, one):
        assert "Not available yet:" in text
        assert "no data yet" in text
    assert "has 0 levels among the 0 complete subjects" in one


def test_the_laboratory_shifts_are_matrices_of_the_treated(demo_session: Session) -> None:
    """Issue 18, item 5: per analyte and arm a baseline-by-worst grade matrix whose total is
    the treated patients with a value (IV 6, IT 8 in the reference trial)."""
    from alstrial.reporting.safety_tables import lab_shift_matrix

    frames = build_analysis_frames(demo_session)
    matrices = lab_shift_matrix(frames, "ALT")
    assert set(matrices) == {"IV", "IT"}
    treated = frames.subjects[frames.subjects["administered"].astype(bool)]
    with_alt = set(frames.labs.loc[frames.labs["analyte"] == "ALT", "subject"])
    for arm, matrix in matrices.items():
        expected = len(set(treated.loc[treated["arm"] == arm, "subject"]) & with_alt)
        assert matrix.loc["total", "total"] == expected
        assert list(matrix.columns) == [0, 1, 2, 3, 4, "none", "total"]
    html = render_html(build_report(frames))
    assert "ALT, arm IV: baseline grade (rows) by worst grade after the administration" in html


def test_the_report_states_which_data_it_came_from(demo_session: Session) -> None:
    """Issue 18, item 7: the data's last audit event (sequence and hash), the protocol
    version and the SHA-256 of its text, alstrial's version; without the store the report
    says it cannot vouch for its source."""
    import alstrial
    from alstrial.reporting.provenance import data_provenance
    from alstrial.services.lookup import latest_protocol_version, only_study
    from alstrial.store.audit import AuditEvent

    provenance = data_provenance(demo_session)
    assert provenance is not None
    last = demo_session.get(AuditEvent, provenance.audit_head_seq)
    assert last is not None
    assert last.hash == provenance.audit_head_hash
    version = latest_protocol_version(demo_session, only_study(demo_session))
    html = render_html(build_report(build_analysis_frames(demo_session), provenance))
    assert provenance.audit_head_hash in html
    assert version.digest in html
    assert f"event {provenance.audit_head_seq}," in html
    assert f"alstrial {alstrial.__version__}" in html
    bare = render_html(build_report(build_analysis_frames(demo_session)))
    assert "cannot say which audit event its data come from" in bare


def test_kaplan_meier_figure_has_the_numbers_at_risk(demo_session: Session) -> None:
    """Issue 18, item 5: the curves by arm, and under them the patients at risk, counted
    here from the times to event or censoring."""
    import xml.etree.ElementTree as ET

    from alstrial.reporting.figures import numbers_at_risk

    report = build_report(build_analysis_frames(demo_session))
    data = report.survival.data
    assert set(data["arm"]) == {"IV", "IT"}
    expected = {
        arm: [sum(1 for m in own["months"] if m >= t) for t in (0, 3, 6, 9)]
        for arm, own in data.groupby("arm")
    }
    assert numbers_at_risk(data, (0, 3, 6, 9)) == expected
    assert expected["IV"][0] == 6
    svg = ET.fromstring(report.km_svg)
    shown = {
        g.get("id"): "".join(g.itertext()).strip()
        for g in svg.iter("{http://www.w3.org/2000/svg}g")
        if (g.get("id") or "").startswith("risk-")
    }
    for arm, counts in expected.items():
        for t, n in zip((0, 3, 6, 9), counts, strict=True):
            assert shown[f"risk-{arm}-{t}"] == str(n)
    assert 'id="km-IV"' in report.km_svg
    assert 'id="km-IT"' in report.km_svg


def test_each_patients_course_is_drawn(demo_session: Session) -> None:
    """One line per patient with ratings, per measure (the SVG ids name them)."""
    frames = build_analysis_frames(demo_session)
    report = build_report(frames)
    for measure in ("alsfrs_r_total", "fvc_percent_predicted"):
        rated = set(frames.measures.loc[frames.measures["measure"] == measure, "subject"])
        drawn = set(re.findall(rf'id="course-{measure}-(P\d\d)"', report.courses_svg))
        assert drawn == rated
    assert "administration" in report.courses_svg
    assert "SYNTHETIC DATA" in report.courses_svg


def test_the_methods_paragraph_says_what_was_run(demo_session: Session) -> None:
    """Issue 18, item 7: generated from the fits (the covariance each MMRM converged with,
    the patients in each analysis) and the software's versions."""
    import numpy

    import alstrial
    from alstrial.reporting.methods import methods_paragraphs

    report = build_report(build_analysis_frames(demo_session))
    text = " ".join(methods_paragraphs(report))
    words = {"us": "unstructured", "ar1": "AR(1)", "cs": "compound symmetry"}
    for summary in report.mmrms.values():
        assert summary.fit is not None
        assert f"{words[summary.structure]} covariance, {summary.fit.n_subjects} patients" in text
    for label, result in report.anovas.items():
        assert f"{label}: {result.n_subjects} patients with every visit" in text
    assert f"alstrial {alstrial.__version__}" in text
    assert f"numpy {numpy.__version__}" in text
    assert "Statistical methods" in render_html(report)


def test_the_methods_of_an_empty_trial_say_what_could_not_run(engine: Engine) -> None:
    from alstrial.reporting.methods import methods_paragraphs

    with make_session_factory(engine)() as session:
        report = build_report(build_analysis_frames(session))
    text = " ".join(methods_paragraphs(report))
    assert "not run (" in text
    assert "not estimable (" in text


def test_the_encals_table_flags_medians_outside_the_models_data(demo_session: Session) -> None:
    report = build_report(build_analysis_frames(demo_session))
    table = report.encals.dropna(subset=["median_months"])
    assert set(table["support"]) <= {"data", "tail", "extrapolated"}
    flagged = int((table["support"] == "tail").sum())
    assert flagged == int((table["median_months"] > 38.016).sum())
    html = render_html(report)
    assert html.count("tail of the model's data</span>") == flagged
