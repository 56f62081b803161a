"""``alstrial flow analyze`` and ``alstrial dose`` on files written by the tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fcs_writer import write_fcs


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alstrial.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_flow_analyze_and_dose(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    n = 3000
    scatter = np.column_stack([rng.uniform(200, 800, n), rng.uniform(100, 600, n)])
    iso = np.column_stack([scatter, rng.normal(40, 8, n).clip(0)])
    stained = iso.copy()
    stained[: int(0.96 * n), 2] = rng.normal(500, 40, int(0.96 * n))
    channels, markers = ["FSC-H", "SSC-H", "FL1-H"], ["", "", "CD90"]
    write_fcs(tmp_path / "s.fcs", stained, channels, markers=markers, version="2.0")
    write_fcs(tmp_path / "i.fcs", iso, channels, markers=markers, version="2.0")
    result = run(
        "flow",
        "analyze",
        "--stained",
        "s.fcs",
        "--isotype",
        "i.fcs",
        "--marker",
        "CD90",
        "--figure",
        "fig2.svg",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    (cd90,) = payload["markers"]
    assert cd90["percent_positive"] == pytest.approx(96.0, abs=1.0)
    assert payload["isct"]["deviations"]
    svg = (tmp_path / "fig2.svg").read_text()
    assert svg.startswith("<?xml")
    assert "CD90: 96" in svg
    bad = run(
        "flow",
        "analyze",
        "--stained",
        "missing.fcs",
        "--isotype",
        "i.fcs",
        "--marker",
        "CD90",
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert "missing.fcs" in bad.stderr
    dose = run(
        "dose",
        "--weight",
        "70",
        "--per-kg",
        "2e6",
        "--concentration",
        "2.8e7",
        "--json",
        cwd=tmp_path,
    )
    assert json.loads(dose.stdout)["volume_ml"] == pytest.approx(5.0)
