"""FCS reading: files written here with exactly known contents, and the real instrument files
of ``../shared/flow-reference`` (each reads or fails as its README says)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alstrial.manufacturing.fcs import FcsError, read_fcs
from alstrial.manufacturing.flow import analyze_tubes, compensate, percent_positive
from tests.fcs_writer import write_fcs


def test_fcs20_integers_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    events = rng.integers(0, 1024, size=(500, 4))
    path = write_fcs(
        tmp_path / "c.fcs",
        events,
        ["FSC-H", "SSC-H", "FL1-H", "FL2-H"],
        markers=["", "", "CD73", "CD90"],
        version="2.0",
    )
    sample = read_fcs(path)
    assert sample.version == "2.0"
    assert sample.events.shape == (500, 4)
    assert np.array_equal(sample.events, events)
    assert sample.channel_index("cd73") == 2
    assert sample.spillover is None


def test_fcs31_float_with_spillover_compensates_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    true = rng.uniform(10, 1000, size=(300, 2))
    spill = np.array([[1.0, 0.18], [0.05, 1.0]])
    observed = np.column_stack(
        [rng.uniform(100, 900, 300), rng.uniform(100, 900, 300), true @ spill]
    )
    path = write_fcs(
        tmp_path / "s.fcs",
        observed,
        ["FSC-A", "SSC-A", "FITC-A", "PE-A"],
        spillover=(["FITC-A", "PE-A"], spill),
        spill_keyword="SPILL",
    )
    sample = read_fcs(path)
    assert sample.spillover is not None
    assert sample.spillover.keyword == "SPILL"
    assert sample.spillover.matrix[0, 1] == pytest.approx(0.18)
    corrected = compensate(sample)
    assert np.allclose(corrected[:, 2:], true, rtol=1e-5)  # float32 storage
    assert np.array_equal(corrected[:, :2], sample.events[:, :2])


def test_truncated_and_inconsistent_files(tmp_path: Path) -> None:
    good = write_fcs(tmp_path / "g.fcs", np.ones((100, 2)), ["FSC-A", "SSC-A"])
    cut = tmp_path / "cut.fcs"
    cut.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(FcsError, match=r"cut\.fcs"):
        read_fcs(cut)
    (tmp_path / "tiny.fcs").write_bytes(b"FCS3.0")
    with pytest.raises(FcsError, match="too short"):
        read_fcs(tmp_path / "tiny.fcs")
    (tmp_path / "text.fcs").write_bytes(b"x" * 100)
    with pytest.raises(FcsError, match="not an FCS file"):
        read_fcs(tmp_path / "text.fcs")
    with pytest.raises(FcsError, match="cannot be read"):
        read_fcs(tmp_path / "absent.fcs")


def test_empty_spillover_is_refused_at_compensation(tmp_path: Path) -> None:
    path = write_fcs(
        tmp_path / "m.fcs",
        np.ones((10, 3)),
        ["FSC-A", "SSC-A", "FITC-A"],
        extra={"$SPILLOVER": "1,FITC-A"},
    )
    sample = read_fcs(path)
    assert sample.spillover is None
    with pytest.raises(FcsError, match="lists 1 channels but holds 0 values"):
        compensate(sample)


def test_isotype_percentile_vector() -> None:
    """flow-reference/README.md: isotype 1..1000, stained 950 events at 10,000 plus 1..50:
    95.0 % positive, isotype 1.0 %, threshold 990 (exact)."""
    isotype = np.arange(1, 1001.0)
    stained = np.concatenate([np.full(950, 10000.0), np.arange(1, 51.0)])
    result = percent_positive(stained, isotype)
    assert (result.threshold, result.percent_positive, result.isotype_percent) == (990.0, 95.0, 1.0)
    overton = percent_positive(stained, isotype, method="overton")
    assert overton.percent_positive == pytest.approx(95.0, abs=0.5)


def test_dim_marker_diverges_between_methods() -> None:
    """A dim marker (stained shifted by half an isotype SD) shows how the two definitions
    part: the percentile gate counts few positives, Overton more."""
    rng = np.random.default_rng(5)
    isotype = rng.normal(300, 60, 20000)
    stained = rng.normal(330, 60, 20000)
    gate = percent_positive(stained, isotype).percent_positive
    overton = percent_positive(stained, isotype, method="overton").percent_positive
    assert gate < 5 < overton


def test_analyze_tubes_on_written_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    n = 4000
    scatter = np.column_stack([rng.uniform(200, 800, n), rng.uniform(100, 600, n)])
    iso = np.column_stack([scatter, rng.normal(50, 10, (n, 2)).clip(0)])
    stained = np.column_stack(
        [scatter, rng.normal(50, 10, n).clip(0), rng.normal(50, 10, n).clip(0)]
    )
    stained[: int(0.97 * n), 2] = rng.normal(600, 50, int(0.97 * n))  # CD73 bright on 97 %
    channels, markers = ["FSC-H", "SSC-H", "FL1-H", "FL2-H"], ["", "", "CD73", "CD34"]
    s = read_fcs(write_fcs(tmp_path / "s.fcs", stained, channels, markers=markers, version="2.0"))
    i = read_fcs(write_fcs(tmp_path / "i.fcs", iso, channels, markers=markers, version="2.0"))
    cd73, cd34 = analyze_tubes(s, i, ["CD73", "CD34"])
    assert cd73.percent_positive == pytest.approx(97.0, abs=1.0)
    assert cd34.percent_positive < 3.0
    with pytest.raises(FcsError, match="no channel or marker 'CD105'"):
        analyze_tubes(s, i, ["CD105"])


REAL = {
    "facscalibur_fcs2.0.fcs": ("2.0", (37395, 8)),
    "bd_facsdiva_fcs3.0.fcs": ("3.0", (83411, 12)),
    "bd_lsr2_fcs3.0.fcs": ("3.0", (14945, 11)),
    "blank_header_offsets.fcs": ("3.0", (11585, 11)),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_files_read(shared: Path, name: str) -> None:
    sample = read_fcs(shared / "flow-reference" / name)
    assert (sample.version, sample.events.shape) == REAL[name]


def test_facsdiva_spill_keyword(shared: Path) -> None:
    """README: 8x8 SPILL; CD45 on PerCP-A, CD34 on PE-Cy7-A; FITC-A -> PE-A 0.1839411109727794."""
    sample = read_fcs(shared / "flow-reference" / "bd_facsdiva_fcs3.0.fcs")
    assert sample.spillover is not None
    assert sample.spillover.keyword == "SPILL"
    assert sample.spillover.matrix.shape == (8, 8)
    fitc, pe = sample.spillover.channels.index("FITC-A"), sample.spillover.channels.index("PE-A")
    assert sample.spillover.matrix[fitc, pe] == 0.1839411109727794
    assert sample.channels[sample.channel_index("CD45")] == "PerCP-A"
    assert sample.channels[sample.channel_index("CD34")] == "PE-Cy7-A"
    assert compensate(sample).shape == (83411, 12)


def test_miltenyi_offset_error(shared: Path) -> None:
    path = shared / "flow-reference" / "miltenyi_fcs3.1_offset_error.fcs"
    with pytest.raises(FcsError, match="off by one byte"):
        read_fcs(path)
    sample = read_fcs(path, strict=False)
    assert sample.events.shape == (10000, 19)
    assert sample.warnings
    with pytest.raises(FcsError, match="no usable compensation"):
        compensate(sample)


@pytest.mark.parametrize("name", ["corrupted.fcs", "header_only.fcs"])
def test_broken_files_fail_clearly(shared: Path, name: str) -> None:
    with pytest.raises(FcsError, match=name):
        read_fcs(shared / "flow-reference" / name)
