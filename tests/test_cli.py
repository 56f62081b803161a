"""The command line: the demo end to end, audit verify's exit codes, one-line errors."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from alstrial.exceptions import ValidationError

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def alstrial(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alstrial.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = alstrial("demo", "--out", str(out), cwd=out)
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC DATA" in result.stdout
    return out


def test_demo_writes_database_and_report(demo_dir: Path) -> None:
    assert (demo_dir / "reference_trial.db").stat().st_size > 0
    assert "SYNTHETIC DATA" in (demo_dir / "report.html").read_text()


def test_audit_verify_fails_after_a_raw_edit(tmp_path: Path, demo_dir: Path) -> None:
    db = tmp_path / "copy.db"
    db.write_bytes((demo_dir / "reference_trial.db").read_bytes())
    url = f"sqlite:///{db}"
    assert alstrial("audit", "verify", "--database", url, cwd=tmp_path).returncode == 0
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE spirometry SET fvc_litres = 4.5 WHERE id = 3")
    result = alstrial("audit", "verify", "--database", url, cwd=tmp_path)
    assert result.returncode == 1
    assert "spirometry record 3 field fvc_litres" in result.stderr


def test_subjects_list_json_and_labels(demo_dir: Path) -> None:
    url = f"sqlite:///{demo_dir / 'reference_trial.db'}"
    result = alstrial("subjects", "list", "--database", url, "--json", cwd=demo_dir)
    rows = json.loads(result.stdout)
    assert len(rows) == 14
    assert {row["provenance"] for row in rows} == {"synthetic"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["subjects", "show", "P99"], "error: no subject 'P99'"),
        (["report", "--database", "sqlite:////nonexistent/dir/x.db"], "error: the database"),
        (["audit", "verify", "--database", "mysql://x"], "error: unsupported database"),
        (["demo", "--seed", "abc"], "Invalid value for '--seed'"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str, demo_dir: Path) -> None:
    url = f"sqlite:///{demo_dir / 'reference_trial.db'}"
    if "--database" not in args:
        args = [*args, "--database", url] if args[0] != "demo" else args
    result = alstrial(*args, cwd=demo_dir)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_json_error_shape(demo_dir: Path) -> None:
    url = f"sqlite:///{demo_dir / 'reference_trial.db'}"
    result = alstrial("subjects", "show", "P99", "--json", "--database", url, cwd=demo_dir)
    assert result.returncode == 2
    assert json.loads(result.stderr) == {
        "error": "not_found",
        "message": "no subject 'P99'",
        "subject": "P99",
    }


def test_broken_protocol_names_key_value_and_expectation(tmp_path: Path) -> None:
    protocol = tmp_path / "bad.toml"
    from alstrial.protocol import reference_protocol_text

    protocol.write_text(reference_protocol_text().replace("day = 61", 'day = "two months"'))
    result = alstrial("protocol", "check", str(protocol), cwd=tmp_path)
    assert result.returncode == 2
    assert "key visits[6].day" in result.stderr
    assert "'two months'" in result.stderr


def test_error_line_shape() -> None:
    error = ValidationError(
        "bad", subject="P01", form="alsfrs_r", field="item_1", value=7, allowed="an integer 0-4"
    )
    assert error.one_line() == (
        "bad (subject='P01', form='alsfrs_r', field='item_1', value=7, allowed='an integer 0-4')"
    )


def test_batch_release_and_certificate(demo_dir: Path, tmp_path: Path) -> None:
    """The demo's batches are listed released; a check conforms with the panel deviations
    stated; the certificate is written as HTML (signature, deviations, synthetic label) and
    as PDF; signing again is refused."""
    url = f"sqlite:///{demo_dir / 'reference_trial.db'}"
    rows = json.loads(alstrial("batch", "list", "--database", url, "--json", cwd=tmp_path).stdout)
    assert len(rows) == 14
    assert {row["release_status"] for row in rows} == {"released"}
    check = alstrial("release", "check", "MSC-P01", "--database", url, "--json", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    payload = json.loads(check.stdout)
    assert payload["conforms"] is True
    assert any("HLA-DR not tested" in d for d in payload["deviations"])
    html_path, pdf_path = tmp_path / "cert.html", tmp_path / "cert.pdf"
    for path in (html_path, pdf_path):
        result = alstrial(
            "release", "certificate", "MSC-P01", "--out", str(path), "--database", url, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
    html = html_path.read_text()
    assert 'id="synthetic-notice"' in html
    assert "CD19 or CD79a not tested" in html
    assert "Released by QC release (reference-trial demo)" in html
    assert pdf_path.read_bytes().startswith(b"%PDF")
    again = alstrial(
        "release",
        "sign",
        "MSC-P01",
        "--decision",
        "released",
        "--reason",
        "x",
        "--user",
        "qc-reference",
        "--database",
        url,
        cwd=tmp_path,
    )
    assert again.returncode == 2
    assert "already released" in again.stderr


def test_safety_commands(demo_dir: Path, tmp_path: Path) -> None:
    """CTCAE grade of a converted value; no stopping rule open in the demo; Table 3 as JSON
    has the checklist's 29 terms."""
    graded = json.loads(
        alstrial("safety", "grade", "ALT", "3.0", "--unit", "ukat/L", "--json", cwd=tmp_path).stdout
    )
    assert (graded["value"], graded["ctcae_grade"]) == (pytest.approx(180.0), 2)
    url = f"sqlite:///{demo_dir / 'reference_trial.db'}"
    assert alstrial("safety", "stopping", "--database", url, cwd=tmp_path).returncode == 0
    table = json.loads(
        alstrial("safety", "table", "table3", "--database", url, "--json", cwd=tmp_path).stdout
    )
    assert len(table) == 29
    bad = alstrial("safety", "grade", "CREAT", "1", "--unit", "mmHg", cwd=tmp_path)
    assert bad.returncode == 2
    assert "cannot be converted" in bad.stderr
