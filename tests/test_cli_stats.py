"""``alstrial stats``: rm-anova and mmrm on files, with the issue's JSON keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

REFERENCE = Path(__file__).parent / "reference"


def stats(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alstrial.cli.main", "stats", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def as_json(*args: str, cwd: Path) -> Any:
    result = stats(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def ucla(tmp_path: Path) -> Path:
    """UCLA's SPSS repeated-measures example (stats-reference/README.md), long format."""
    rows = [(100, 90, 130), (90, 100, 100), (110, 110, 109), (100, 90, 109), (100, 100, 130)]
    frame = pd.DataFrame(
        [
            {"id": i, "cond": f"c{j + 1}", "score": value}
            for i, row in enumerate(rows)
            for j, value in enumerate(row)
        ]
    )
    path = tmp_path / "ucla.csv"
    frame.to_csv(path, index=False)
    return path


def test_rm_anova_json_matches_spss(ucla: Path, tmp_path: Path) -> None:
    """SPSS: SS 928.533, F(2, 8) = 4.725, p = .044; GG 0.63432, p = .077; HF 0.79507,
    p = .060; lower bound p = .095 (published to the digits shown)."""
    payload = as_json(
        "rm-anova", str(ucla), "--subject", "id", "--within", "cond", "--dv", "score", cwd=tmp_path
    )
    assert payload["n_subjects"] == 5
    assert payload["excluded_subjects"] == []
    assert set(payload["mauchly"]) == {"W", "chi2", "df", "p"}
    (effect,) = payload["effects"]
    assert effect["effect"] == "cond"
    assert effect["ss"] == pytest.approx(928.533, abs=5e-4)
    assert (effect["df_num"], effect["df_den"]) == (2, 8)
    assert effect["F"] == pytest.approx(4.725, abs=5e-4)
    assert effect["p"] == pytest.approx(0.044, abs=5e-4)
    assert effect["eps_gg"] == pytest.approx(0.63432, abs=5e-6)
    assert effect["p_gg"] == pytest.approx(0.077, abs=5e-4)
    assert effect["eps_hf"] == pytest.approx(0.79507, abs=5e-6)
    assert effect["p_hf"] == pytest.approx(0.060, abs=5e-4)
    assert effect["p_lower_bound"] == pytest.approx(0.095, abs=5e-4)
    assert {"eps_hf_lecoutre", "p_hf_lecoutre"} <= set(effect)


def test_mmrm_json_on_fev_data(tmp_path: Path) -> None:
    """SAS: -2 REML LL 3386.44987722, ARMCD TRT 3.77423 (SE 1.07415, df 145.55)."""
    payload = as_json(
        "mmrm",
        str(REFERENCE / "fev_data.csv"),
        "--formula",
        "FEV1 ~ RACE + SEX + ARMCD*AVISIT",
        "--subject",
        "USUBJID",
        "--visit",
        "AVISIT",
        "--reference",
        "SEX=Male",
        cwd=tmp_path,
    )
    assert (payload["n_subjects"], payload["n_obs"]) == (197, 537)
    assert -2 * payload["loglik"] == pytest.approx(3386.44987722, abs=1e-5)
    arm = {c["term"]: c for c in payload["coefficients"]}["ARMCDTRT"]
    assert set(arm) == {"term", "estimate", "se", "df", "t", "p"}
    assert arm["estimate"] == pytest.approx(3.77423, rel=1e-4)
    assert arm["df"] == pytest.approx(145.55, abs=0.015)
    assert len(payload["covariance"]) == 4
    assert payload["visits"] == ["VIS1", "VIS2", "VIS3", "VIS4"]
    assert {row["effect"] for row in payload["type3"]} == {
        "RACE",
        "SEX",
        "ARMCD",
        "AVISIT",
        "ARMCD:AVISIT",
    }
    assert len(payload["lsmeans"]) == 8


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["rm-anova", "missing.csv", "--subject", "a", "--within", "b", "--dv", "c"],
            "does not exist",
        ),
        (
            [
                "mmrm",
                "DATA",
                "--formula",
                "FEV1 ~ ARMCD",
                "--subject",
                "USUBJID",
                "--visit",
                "AVISIT",
                "--cov",
                "un",
            ],
            "unknown covariance structure",
        ),
        (
            [
                "mmrm",
                "DATA",
                "--formula",
                "FEV1 ~ ARMCD",
                "--subject",
                "USUBJID",
                "--visit",
                "AVISIT",
                "--reference",
                "ARMCD",
            ],
            "COLUMN=LEVEL",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    args = [str(REFERENCE / "fev_data.csv") if a == "DATA" else a for a in args]
    result = stats(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_parquet_input(tmp_path: Path) -> None:
    """The same file as Parquet gives the same MMRM."""
    data = pd.read_csv(REFERENCE / "fev_data.csv")
    path = tmp_path / "fev.parquet"
    data.to_parquet(path)
    payload = as_json(
        "mmrm",
        str(path),
        "--formula",
        "FEV1 ~ ARMCD*AVISIT",
        "--subject",
        "USUBJID",
        "--visit",
        "AVISIT",
        cwd=tmp_path,
    )
    assert payload["n_obs"] == 537


def test_km_power_lmm_cafs_json(tmp_path: Path) -> None:
    """One call each; the numbers are held by the engine's own tests, here the JSON keys and
    a value each (R survdiff chisq 3.3964; Diggle n 313; lmerTest -2REML 2037.7576)."""
    km = as_json(
        "km",
        str(REFERENCE / "aml.csv"),
        "--time",
        "time",
        "--event",
        "status",
        "--group",
        "x",
        cwd=tmp_path,
    )
    assert km["log_rank"]["chi2"] == pytest.approx(3.3963887, abs=1e-6)
    assert km["curves"]["Maintained"]["median"] == 31
    diggle = as_json(
        "power",
        "diggle",
        "--delta",
        "0.5",
        "--times",
        "0,2,5",
        "--sigma2",
        "100",
        "--rho",
        "0.2",
        "--one-sided",
        cwd=tmp_path,
    )
    assert diggle["n_per_group_rounded"] == 313
    model = as_json(
        "lmm",
        str(REFERENCE / "lmm_data.csv"),
        "--formula",
        "score ~ arm*months",
        "--subject",
        "id",
        "--time",
        "months",
        cwd=tmp_path,
    )
    assert model["neg2_loglik"] == pytest.approx(2037.75764872, abs=1e-6)
    assert set(model["random_effects"]) == {"UN(1,1)", "UN(2,1)", "UN(2,2)", "Residual"}
    trial = pd.DataFrame(
        {
            "id": ["A", "B", "C", "D"],
            "arm": ["x", "x", "y", "y"],
            "death": [3, 6, None, None],
            "end": [3, 6, 12, 12],
            "change": [None, -8, -10, -4],
        }
    )
    trial.to_csv(tmp_path / "trial.csv", index=False)
    result = as_json(
        "cafs",
        str(tmp_path / "trial.csv"),
        "--subject",
        "id",
        "--arm",
        "arm",
        "--death-time",
        "death",
        "--followup-time",
        "end",
        "--change",
        "change",
        cwd=tmp_path,
    )
    assert result["mean_score"] == {"x": -2.0, "y": 2.0}
    missing = stats("power", "diggle", "--delta", "0.5", cwd=tmp_path)
    assert missing.returncode == 2
    assert "needs --times" in missing.stderr
