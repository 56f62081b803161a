"""The trial report and the release certificate as PDF (issue 18, item 1): typeset by Typst,
read back with pypdf (text) and rendered with PDFium (pages), both independent of the
writer."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
from pypdf import PdfReader
from sqlalchemy.orm import Session

from alstrial.reporting.certificate import build_certificate, render_certificate_pdf
from alstrial.reporting.report import build_store_report, render_pdf, write_report
from alstrial.reporting.typeset import typeset_pdf, typst_string
from alstrial.services import build_analysis_frames
from tests.helpers import run_cli

SECTIONS = (
    "CONSORT flow diagram",
    "Statistical methods",
    "Participant flow",
    "Table 1: patients' characteristics",
    "Table 2: cell information",
    "Table 3: adverse events after cell transplantation",
    "Safety: adverse events by category and grade",
    "Figure 3: ALSFRS-R and FVC by arm",
    "Repeated-measures ANOVA",
    "Mixed model for repeated measures (MMRM)",
    "Change of slope at administration",
    "Time to death or tracheostomy",
    "Slopes before and after administration",
    "King's and MiToS stages",
    "Power for the next trial",
    "ENCALS predicted survival",
)


def _text(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return reader, text.replace("\u2019", "'")


def test_the_report_pdf_has_every_section_its_values_and_its_label(
    demo_session: Session,
) -> None:
    report = build_store_report(demo_session)
    provenance = report.provenance
    assert provenance is not None
    reader, text = _text(render_pdf(report))
    assert "Assessed for eligibility (n = 14)" in text  # the diagram's text is text
    for section in SECTIONS:
        assert section in text, section
    assert "Contents" in text  # the table of contents
    assert "SYNTHETIC" in reader.pages[0].extract_text()  # the title page says so
    assert provenance.audit_head_hash in text.replace("\n", "")
    assert provenance.protocol_sha256 in text.replace("\n", "")
    flow = report.flow.set_index("arm")
    assert f"IV 6 6 0 1 0 0 1 4 0 {flow.loc['IV', 'completed_12_months']}" in text
    second = reader.pages[2].extract_text()
    assert "ROYAN-ALS-MSC: trial report" in second  # the running header
    assert f"3 / {len(reader.pages)}" in second  # page numbers
    for patient in report.table1["patient"]:
        assert patient in text


def test_the_report_pdf_pages_render(demo_session: Session, tmp_path: Path) -> None:
    path = write_report(build_analysis_frames(demo_session), tmp_path / "r.pdf", fmt="pdf")
    document = pdfium.PdfDocument(str(path))
    assert len(document) >= 6
    for index in (0, 1, len(document) - 1):
        image = document[index].render(scale=0.5).to_pil().convert("L")
        low, high = image.getextrema()
        assert high - low > 100, f"page {index + 1} renders blank"


def test_stored_text_cannot_become_typst_markup() -> None:
    """A value with Typst's markup characters is printed as it is, not obeyed."""
    hostile = 'P01 #pagebreak() *bold* $x^2$ "quoted" back\\slash [link] = heading'
    pdf = typeset_pdf(f"#{typst_string(hostile)}", moment=datetime.now(UTC))
    reader, text = _text(pdf)
    assert len(reader.pages) == 1
    assert text.strip() == hostile


def test_the_certificate_pdf_is_typeset_like_the_report(demo_session: Session) -> None:
    certificate = build_certificate(demo_session, "MSC-P01")
    pdf = render_certificate_pdf(certificate)
    page = pdfium.PdfDocument(pdf)[0].render(scale=0.5).to_pil().convert("L")
    low, high = page.getextrema()
    assert high - low > 100  # the page renders, not blank
    _, text = _text(pdf)
    assert "Release certificate: batch MSC-P01" in text
    assert "Release tests" in text
    assert "HLA-DR not tested" in text
    assert "Released by QC release (reference-trial demo)" in text
    assert text.startswith("SYNTHETIC DATA")


def test_no_pdf_is_drawn_by_hand() -> None:
    """Issue 18: every PDF goes through Typst; none is drawn with matplotlib's text."""
    source = Path(__file__).resolve().parents[1] / "src" / "alstrial"
    offenders = [
        str(p) for p in source.rglob("*.py") if "PdfPages" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_the_cli_writes_the_report_as_pdf(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    built = run_cli("demo", "--out", str(demo))
    assert built.returncode == 0, built.stderr
    url = f"sqlite:///{demo / 'reference_trial.db'}"
    out = tmp_path / "report.pdf"
    result = run_cli("report", "--format", "pdf", "--out", str(out), "--database", url)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF")
    refused = run_cli("report", "--format", "docx", "--out", str(tmp_path / "r.docx"),
                      "--database", url)  # fmt: skip
    assert refused.returncode == 2
    assert "unknown report format 'docx'" in refused.stderr
    assert not (tmp_path / "r.docx").exists()
