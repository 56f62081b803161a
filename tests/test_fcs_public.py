"""The FCS reader on real files from about fifteen instruments (tests/data/fcs_public, with
source, commit and licence in its README): every data set of every valid file is read and each
value compared with FlowIO's, or, where FlowIO cannot read the file (24-bit integers), with an
independent decoder written here; broken files are refused in one line, never a traceback.

Tolerance: none. Raw values must be identical; linear values equal to 1e-12 relative (the
same formula evaluated by two libraries).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import warnings
from pathlib import Path

import numpy as np
import pytest

from alstrial.manufacturing.fcs import FcsError, inspect_fcs, read_fcs, read_fcs_data_sets
from alstrial.manufacturing.flow import scatter_channels, scatter_gate
from tests.helpers import run_cli

CORPUS = Path(__file__).parent / "data" / "fcs_public"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text())
BROKEN = {
    "corrupted_10_bytes.fcs": "10 bytes is too short for an FCS HEADER",
    "cytek_aurora_header_only.fcs": "past the end of the file",
}
#: Files whose DATA segment is one byte off the event count: refused strictly.
OFF_BY_ONE = {"beckman_fc500_two_data_sets.lmd", "bd_lsr2_comp_off_by_one.fcs"}
READABLE = [e["file"] for e in MANIFEST if e["file"] not in BROKEN]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fcs_public")
    for entry in MANIFEST:
        raw = lzma.decompress((CORPUS / f"{entry['file']}.xz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"], entry["file"]
        (folder / entry["file"]).write_bytes(raw)
    return folder


def _flowio(path: Path, index: int, count: int) -> object | None:
    """FlowIO's reading of data set ``index`` (0-based), or None where it cannot read it."""
    import flowio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if count > 1:
                data = flowio.read_multiple_data_sets(str(path), ignore_offset_error=True)[index]
            else:
                data = flowio.FlowData(
                    str(path), ignore_offset_error=True, ignore_offset_discrepancy=True
                )
        except Exception:
            return None
    return None if data.events is None else data  # None: "non-standard bit width"


def _preprocessed(reference: object) -> np.ndarray | None:
    try:
        return np.asarray(reference.as_array(preprocess=True))  # type: ignore[attr-defined]
    except ValueError as error:
        if "imestep" not in str(error):
            raise
        return None


def _independent_raw(path: Path, keywords: dict[str, str], events: int) -> np.ndarray:
    """Whole-byte big- or little-endian integers, value by value with int.from_bytes, masked
    to ceil(log2($PnR)) bits (FCS 3.1 section 3.3.36); offsets from TEXT."""
    raw = path.read_bytes()
    count = int(keywords["par"])
    widths = [int(keywords[f"p{i}b"]) // 8 for i in range(1, count + 1)]
    masks = [
        (1 << int(np.ceil(np.log2(float(keywords[f"p{i}r"]))))) - 1 for i in range(1, count + 1)
    ]
    order = "big" if keywords["byteord"].startswith("4") else "little"
    position = int(keywords["begindata"])
    out = np.empty((events, count))
    for row in range(events):
        for column, width in enumerate(widths):
            value = int.from_bytes(raw[position : position + width], order)
            out[row, column] = value & masks[column]
            position += width
    return out


def test_corpus_is_complete_with_licences() -> None:
    """Each manifest entry has its file, source, commit and a licence file for its project."""
    licences = {p.stem for p in (CORPUS / "licences").iterdir()}
    for entry in MANIFEST:
        assert (CORPUS / f"{entry['file']}.xz").is_file()
        assert len(entry["commit"]) == 40
        assert entry["licence"] in ("MIT", "BSD-3-Clause")
        owner_repo = entry["repository"].removeprefix("https://github.com/").replace("/", "_")
        assert owner_repo in licences
    assert len(READABLE) >= 18


@pytest.mark.parametrize("name", READABLE)
def test_every_value_matches_flowio_or_an_independent_decoder(corpus: Path, name: str) -> None:
    path = corpus / name
    raw_sets = read_fcs_data_sets(path, strict=False, scale="raw")
    linear_sets = read_fcs_data_sets(path, strict=False)
    assert raw_sets
    for index, (raw, linear) in enumerate(zip(raw_sets, linear_sets, strict=True)):
        assert raw.events.shape[0] > 0
        assert np.isfinite(linear.events).all()
        reference = _flowio(path, index, len(raw_sets))
        if reference is None:
            # FlowIO cannot read it (24-bit integers): an independent decoder can
            assert {raw.keywords[f"p{i}b"] for i in range(1, raw.events.shape[1] + 1)} == {"24"}
            expected = _independent_raw(path, raw.keywords, int(raw.keywords["tot"]))
            np.testing.assert_array_equal(raw.events, expected)
            continue
        theirs = np.reshape(
            np.array(reference.events, dtype=np.float64),  # type: ignore[attr-defined]
            (-1, reference.channel_count),  # type: ignore[attr-defined]
        )
        np.testing.assert_array_equal(raw.events, theirs)
        preprocessed = _preprocessed(reference)
        if preprocessed is None:  # FlowIO refuses a $TIMESTEP that is not a number
            assert any("$TIMESTEP" in w and "not a number" in w for w in linear.warnings)
            continue
        np.testing.assert_allclose(linear.events, preprocessed, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(OFF_BY_ONE))
def test_off_by_one_files_need_a_tolerant_read(corpus: Path, name: str) -> None:
    dataset = 1 if name.endswith(".lmd") else None
    with pytest.raises(FcsError, match=r"off by one byte.*--tolerant"):
        read_fcs(corpus / name, dataset=dataset)
    sample = read_fcs(corpus / name, dataset=dataset, strict=False)
    assert any("off by one" in w for w in sample.warnings)


def test_two_data_sets_are_listed_and_chosen(corpus: Path) -> None:
    """Beckman Coulter's LMD: an FCS 2.0 and an FCS 3.0 copy of one tube."""
    path = corpus / "beckman_fc500_two_data_sets.lmd"
    with pytest.raises(FcsError, match=r"holds 2 data sets.*--dataset N"):
        read_fcs(path, strict=False)
    infos = inspect_fcs(path)
    assert [(i.dataset, i.version, i.events) for i in infos] == [
        (1, "2.0", 18110),
        (2, "3.0", 18110),
    ]
    first, second = read_fcs_data_sets(path, strict=False)
    assert (first.dataset, second.dataset, second.datasets) == (1, 2, 2)
    assert first.channels[:2] == ("FS Lin", "SS Lin")
    assert second.channels[:2] == ("FS", "SS")
    with pytest.raises(FcsError, match="no data set 3"):
        read_fcs(path, dataset=3)


def test_header_and_text_disagreeing_use_the_segment_that_fits(corpus: Path) -> None:
    for name, source in (
        ("stratedigm_offset_start_discrepancy.fcs", "HEADER 5555-6188"),
        ("stratedigm_offset_stop_discrepancy.fcs", "HEADER 6081-6944"),
    ):
        sample = read_fcs(corpus / name)
        assert sample.events.shape == (2, 26)
        note = next(w for w in sample.warnings if "disagree" in w)
        assert source in note
        assert "TEXT's segment holds exactly the events" in note
        reference = read_fcs(corpus / "stratedigm_s1400exi_variable_int.fcs")
        np.testing.assert_array_equal(sample.events, reference.events)


@pytest.mark.parametrize(("name", "fsc", "ssc"), [
    ("cytek_xp5_int24.fcs", "FSC", "SSC"),
    ("cytek_xp3_int24.fcs", "FSCA", "SSC"),
    ("beckman_navios_bitmask.lmd", "FS INT LIN", "SS INT LIN"),
    ("stratedigm_s1400exi_variable_int.fcs", "FSC LinA", "SSC LinA"),
    ("bd_facscalibur_hts.fcs", "FSC-H", "SSC-H"),
    ("bd_aria_index_sorted.fcs", "FSC-A", "SSC-A"),
    ("sysmex_cyflow_cube8.fcs", "FSC", "SSC"),
])  # fmt: skip
def test_vendor_scatter_names_are_recognised(corpus: Path, name: str, fsc: str, ssc: str) -> None:
    sample = read_fcs(corpus / name, strict=False)
    assert scatter_channels(sample) == (fsc, ssc)
    kept = scatter_gate(sample).apply(sample)
    assert 0 < kept.sum() <= kept.size


def test_beckman_fc500_scatter_and_an_unrecognised_name(corpus: Path) -> None:
    sample = read_fcs(corpus / "beckman_fc500_two_data_sets.lmd", dataset=1, strict=False)
    assert scatter_channels(sample) == ("FS Lin", "SS Lin")
    line = read_fcs(corpus / "flowkit_simple_line.fcs")
    with pytest.raises(FcsError, match=r"no forward-scatter channel recognised.*--fsc"):
        scatter_channels(line)
    assert scatter_channels(line, fsc=line.channels[0], ssc=line.channels[1]) == line.channels


@pytest.mark.parametrize(("name", "message"), sorted(BROKEN.items()))
def test_broken_files_are_refused_in_one_line(corpus: Path, name: str, message: str) -> None:
    with pytest.raises(FcsError, match=message):
        read_fcs(corpus / name)
    result = run_cli(
        "flow", "analyze", "--stained", str(corpus / name), "--isotype", str(corpus / name),
        "--marker", "CD73",
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_flow_inspect_lists_each_data_set(corpus: Path) -> None:
    result = run_cli("flow", "inspect", str(corpus / "beckman_fc500_two_data_sets.lmd"), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [d["dataset"] for d in payload["datasets"]] == [1, 2]
    first = payload["datasets"][0]
    assert first["channels"][0]["name"] == "FS Lin"
    assert first["channels"][2]["amplification"] == "4.0,0.1024"
    assert "readable only tolerantly" in first["data_segment"]
    assert payload["datasets"][1]["layout"] == "integer, 32 bits, little-endian"
    text = run_cli("flow", "inspect", str(corpus / "cytek_xp5_int24.fcs"))
    assert text.returncode == 0, text.stderr
    assert "integer, 24 bits, big-endian" in text.stdout
    assert "Cytek xP5" in text.stdout
    header_only = run_cli("flow", "inspect", str(corpus / "cytek_aurora_header_only.fcs"))
    assert "not readable" in header_only.stdout
    assert "past the end of the file" in header_only.stdout


@pytest.mark.parametrize("name", [e["file"] for e in MANIFEST])
def test_flow_analyze_on_every_public_file_answers_without_a_traceback(
    corpus: Path, name: str
) -> None:
    """The file as both tubes, its last channel as the marker: exit 0 with a verdict, or
    exit 2 with one line (no scatter recognised, a broken file); never a traceback."""
    path = str(corpus / name)
    marker = "P1"
    try:
        sample = read_fcs_data_sets(corpus / name, strict=False)[-1]
        marker = sample.channels[-1]
        dataset = ["--dataset", str(sample.dataset)] if sample.datasets > 1 else []
    except FcsError:
        dataset = []
    result = run_cli(
        "flow", "analyze", "--stained", path, "--isotype", path, "--marker", marker,
        "--compensation", "no", "--tolerant", "--json", *dataset,
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        payload = json.loads(result.stdout)
        assert payload["markers"][0]["stained_events"] > 0
        assert payload["isct"]["status"] in ("incomplete", "fail")
    else:
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
