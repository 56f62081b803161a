"""``alstrial score``: the issue's example commands, their JSON keys and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def score(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alstrial.cli.main", "score", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def as_json(*args: str, cwd: Path) -> Any:
    result = score(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_alsfrs_r_json(tmp_path: Path) -> None:
    """Vector 3,4,4,3,4,3,4,4,3,4,4,4 -> 44/11/10/11/12, King's 2, MiToS 0 (clinical-reference)."""
    payload = as_json(
        "alsfrs-r", *["3", "4", "4", "3", "4", "3", "4", "4", "3", "4", "4", "4"], cwd=tmp_path
    )
    assert {k: payload[k] for k in ("total", "bulbar", "fine_motor", "gross_motor")} == {
        "total": 44,
        "bulbar": 11,
        "fine_motor": 10,
        "gross_motor": 11,
    }
    assert (payload["respiratory"], payload["kings"], payload["mitos"]) == (12, "2", 0)
    with_5b = as_json(
        "alsfrs-r", *["0", "1", "0", "0", "0b", "0", "0", "0", "0", "1", "1", "1"], cwd=tmp_path
    )
    assert (with_5b["total"], with_5b["kings"], with_5b["mitos"]) == (4, "4A + 4B", 4)


def test_alsfrs_r_missing_item_gives_missing_total(tmp_path: Path) -> None:
    payload = as_json(
        "alsfrs-r", *["3", "4", "4", "3", "4", "3", "-", "4", "3", "4", "4", "4"], cwd=tmp_path
    )
    assert payload["total"] is None
    assert "item_7 missing" in payload["missing_reason"]


def test_fvc_json_both_equations(tmp_path: Path) -> None:
    """GLI-2012 vector: male 50 y 175 cm Caucasian, 4.0 L -> 4.8011 L, 83.31 %, z -1.25."""
    common = ["--sex", "male", "--age", "50", "--height", "175", "--fvc", "4.0"]
    gli = as_json("fvc", *common, "--ethnicity", "caucasian", "--equation", "gli2012", cwd=tmp_path)
    assert gli["predicted_l"] == pytest.approx(4.8011, abs=5e-5)
    assert gli["percent_predicted"] == pytest.approx(83.31, abs=5e-3)
    assert gli["z"] == pytest.approx(-1.25, abs=5e-3)
    assert gli["lln_l"] == pytest.approx(3.752, abs=5e-4)
    world = as_json("fvc", *common, "--equation", "gli-global", cwd=tmp_path)
    assert world["predicted_l"] == pytest.approx(4.4587, abs=5e-5)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["alsfrs-r", *["3", "4", "4", "3", "4", "3", "9", "4", "3", "4", "4", "4"]], "item_7"),
        (["alsfrs-r", *["3", "4", "4", "3"]], "items"),
        (
            ["fvc", "--sex", "male", "--age", "58", "--height", "168", "--fvc", "85"],
            "fvc_litres",
        ),
        (["criteria", "--cervical", "umn,foo"], "cervical"),
        (["dfs", "--total", "40", "--onset", "2023-13-01", "--visit", "2023-11-15"], "onset"),
    ],
)
def test_bad_input_is_one_json_line_and_exit_2(tmp_path: Path, args: list[str], field: str) -> None:
    result = score(*args, "--json", cwd=tmp_path)
    assert result.returncode == 2
    error = json.loads(result.stderr.strip())
    assert error["error"] == "validation"
    assert error["field"] == field


def test_criteria_dfs_and_encals(tmp_path: Path) -> None:
    criteria = as_json(
        "criteria",
        "--bulbar",
        "umn,lmn",
        "--cervical",
        "umn,lmn",
        "--lumbosacral",
        "umn,lmn",
        "--progressive",
        "--other-disease-excluded",
        cwd=tmp_path,
    )
    assert criteria["el_escorial"]["category"] == "definite"
    assert criteria["gold_coast"]["met"] is True
    dfs = as_json(
        "dfs", "--total", "40", "--onset", "2023-01-15", "--visit", "2023-11-15", cwd=tmp_path
    )
    assert dfs["delta_fs"] == pytest.approx(0.80099, abs=5e-6)
    encals = as_json(
        "encals", "--age-onset", "62", "--dfs", "0.5", "--delay", "11", "--fvc", "90", cwd=tmp_path
    )
    assert encals["median_months"] == pytest.approx(36.4, abs=0.05)
    assert "public code" in encals["source"]
