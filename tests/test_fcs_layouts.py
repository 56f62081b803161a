"""Every DATA layout, offset conflict and keyword fault, on files written by tests/fcs_writer.py
(an independent, byte-by-byte encoder): each value must come back exactly, each fault as one
FcsError that names the keyword, the channel and what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alstrial.manufacturing.fcs import FcsError, inspect_fcs, parse_fcs, read_fcs
from alstrial.manufacturing.flow import scatter_gate
from tests.fcs_writer import chain, fcs_bytes, write_fcs

CHANNELS = ["FSC-A", "SSC-A", "FL1-A"]


def _events(top: int, rows: int = 200, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, top, size=(rows, 3)).astype(float)


@pytest.mark.parametrize(
    "options",
    [
        {"datatype": "I", "bits": 8, "ranges": 256},
        {"datatype": "I", "bits": 16},
        {"datatype": "I", "bits": 16, "byteord": "2,1"},
        {"datatype": "I", "bits": 24, "byteord": "4,3,2,1"},  # Cytek xP5
        {"datatype": "I", "bits": 24, "byteord": "1,2,3,4"},
        {"datatype": "I", "bits": 32, "ranges": 2**20},
        {"datatype": "I", "bits": 32, "byteord": "3,4,1,2", "ranges": 2**20},
        {"datatype": "I", "bits": 40, "ranges": 2**20},
        {"datatype": "I", "bits": 64, "ranges": 2**20},
        {"datatype": "I", "bits": [8, 16, 24], "ranges": [256, 1024, 1024]},
        {"datatype": "I", "bits": 10},  # Beckman CXP: 10 bits in 16
        {"datatype": "I", "bits": 10, "packed": True},  # FCS 2.0 bit packing
        {"datatype": "I", "bits": [7, 9, 12], "packed": True, "ranges": [128, 512, 1024]},
        {"datatype": "F"},
        {"datatype": "F", "byteord": "4,3,2,1"},
        {"datatype": "D"},
        {"datatype": "D", "byteord": "8,7,6,5,4,3,2,1"},
        {"datatype": "A", "bits": 5},
        {"datatype": "A", "bits": [3, 4, 6]},
        {"datatype": "A", "delimited": True},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_every_layout_reads_back_exactly(options: dict[str, object]) -> None:
    ranges = options.get("ranges", 1024)
    top = min(ranges) if isinstance(ranges, list) else int(ranges)  # type: ignore[arg-type]
    top = min(top, 128) if options.get("packed") else top
    events = _events(min(top, 1000))
    sample = parse_fcs(fcs_bytes(events, CHANNELS, **options), "w.fcs", scale="raw")  # type: ignore[arg-type]
    np.testing.assert_array_equal(sample.events, events)
    assert sample.datatype == options["datatype"]


def test_ten_bits_say_which_layout_the_segment_confirmed() -> None:
    events = _events(1024)
    words = parse_fcs(fcs_bytes(events, CHANNELS, datatype="I", bits=10), "cxp.fcs")
    assert any("read from 16 bits" in w for w in words.warnings)
    packed = parse_fcs(fcs_bytes(events, CHANNELS, datatype="I", bits=10, packed=True), "p.fcs")
    assert any("packed bit to bit" in w for w in packed.warnings)
    np.testing.assert_array_equal(words.events, packed.events)


def test_integers_are_masked_to_their_range() -> None:
    """FCS 3.1 3.3.36: bits above ceil(log2($PnR)) are ignored (a 10-bit ADC in 16 bits with
    flag bits set above)."""
    events = _events(1024)
    flagged = events + 4096 * (np.arange(events.size).reshape(events.shape) % 2)
    sample = parse_fcs(fcs_bytes(flagged, CHANNELS, datatype="I", bits=16), "m.fcs", scale="raw")
    np.testing.assert_array_equal(sample.events, events)


def test_header_right_text_wrong_and_the_reverse() -> None:
    """Accuri: HEADER right; Cyan: TEXT right. The segment that holds exactly $TOT events is
    read, and the warning says which; where neither does, nothing is guessed."""
    events = _events(1024)
    good = fcs_bytes(events, CHANNELS, datatype="I", bits=16)
    start, end = int(good[26:34]), int(good[34:42])
    header_right = fcs_bytes(events, CHANNELS, datatype="I", bits=16, text_data=(start, end + 6))
    sample = parse_fcs(header_right, "accuri.fcs", scale="raw")
    np.testing.assert_array_equal(sample.events, events)
    assert any("HEADER's segment holds exactly the events" in w for w in sample.warnings)
    text_right = fcs_bytes(events, CHANNELS, datatype="I", bits=16, header_data=(start - 10, end))
    sample = parse_fcs(text_right, "cyan.fcs", scale="raw")
    np.testing.assert_array_equal(sample.events, events)
    assert any("TEXT's segment holds exactly the events" in w for w in sample.warnings)
    neither = fcs_bytes(
        events,
        CHANNELS,
        datatype="I",
        bits=16,
        header_data=(start, end - 9),
        text_data=(start, end - 7),
    )
    with pytest.raises(FcsError, match=r"need 1200 .* bytes of DATA but the segment holds"):
        parse_fcs(neither, "neither.fcs")


def test_blank_header_offsets_are_taken_from_text() -> None:
    events = _events(1024)
    blob = fcs_bytes(events, CHANNELS, blank_header_data=True)
    sample = parse_fcs(blob, "blank.fcs", scale="raw")
    np.testing.assert_array_equal(sample.events, events)
    assert any("HEADER DATA offsets are blank" in w for w in sample.warnings)


def test_timestep_puts_time_in_seconds() -> None:
    events = np.column_stack([np.arange(100.0), _events(1024, 100)[:, :2]])
    blob = fcs_bytes(
        events, ["Time", "FSC-A", "SSC-A"], datatype="I", bits=16, extra={"$TIMESTEP": "0.01"}
    )
    sample = parse_fcs(blob, "t.fcs")
    np.testing.assert_allclose(sample.events[:, 0], np.arange(100.0) * 0.01)
    np.testing.assert_array_equal(sample.events[:, 1:], events[:, 1:])
    raw = parse_fcs(blob, "t.fcs", scale="raw")
    np.testing.assert_array_equal(raw.events[:, 0], np.arange(100.0))


def test_keyword_faults_name_the_keyword_and_the_channel() -> None:
    events = _events(1024)
    cases = [
        ({"drop": ("$P2R",)}, r"\$P2R \(the range of channel 2 \(SSC-A\)\) is missing"),
        ({"extra": {"$P3G": "high"}}, r"\$P3G \(the gain of channel 3, FL1-A\) is 'high'"),
        ({"extra": {"$P1E": "four"}}, r"\$P1E of channel 1 \(FSC-A\) is 'four'"),
        ({"extra": {"$P1B": "*"}}, r"\$P1B of channel 1 \(FSC-A\) is '\*'.*ASCII data only"),
        ({"extra": {"$DATATYPE": "X"}}, r"\$DATATYPE 'X' is not one of I, F, D or A"),
        ({"extra": {"$BYTEORD": "1,1"}}, r"\$BYTEORD '1,1' is not a byte order"),
        ({"extra": {"$PAR": "many"}}, r"\$PAR .* is 'many'"),
        ({"extra": {"$MODE": "C"}}, r"\$MODE C is not list mode"),
    ]
    for options, message in cases:
        blob = fcs_bytes(events, CHANNELS, datatype="I", bits=16, **options)  # type: ignore[arg-type]
        with pytest.raises(FcsError, match=message):
            parse_fcs(blob, "fault.fcs")


def test_seven_bits_in_sixteen_is_refused_not_guessed() -> None:
    """$P1B=7 over 16-bit data (the 500 of the web upload): neither 7 bits packed nor 7 bits in
    a byte fits the segment."""
    blob = fcs_bytes(_events(100), CHANNELS, datatype="I", bits=16, extra={"$P1B": "7"})
    with pytest.raises(FcsError, match=r"bits packed.*but the segment holds"):
        parse_fcs(blob, "seven.fcs")


def test_several_data_sets_are_refused_without_a_choice(tmp_path: Path) -> None:
    first, second = _events(1024), _events(1024, seed=9)
    path = tmp_path / "two.lmd"
    path.write_bytes(
        chain(
            (first, CHANNELS, {"datatype": "I", "bits": 16, "version": "2.0"}),
            (second, CHANNELS, {"datatype": "F"}),
        )
    )
    with pytest.raises(FcsError, match=r"holds 2 data sets"):
        read_fcs(path)
    np.testing.assert_array_equal(read_fcs(path, dataset=1).events, first)
    np.testing.assert_array_equal(read_fcs(path, dataset=2).events, second)
    assert [i.version for i in inspect_fcs(path)] == ["2.0", "3.1"]


def test_text_with_empty_values_and_escaped_delimiters() -> None:
    events = _events(1024)
    escaped = fcs_bytes(events, CHANNELS, extra={"$COM": "a||b"})
    assert parse_fcs(escaped, "e.fcs").keywords["com"] == "a|b"
    empty = fcs_bytes(events, CHANNELS, extra={"$P1S": "", "$CYT": "Calibur"})
    sample = parse_fcs(empty, "empty.fcs")
    assert sample.markers[0] == ""
    assert sample.keywords["cyt"] == "Calibur"
    assert any("empty values" in w for w in sample.warnings)


def test_saturation_is_judged_on_the_stored_scale(tmp_path: Path) -> None:
    """Log-amplified scatter (4 decades over $PnR 1024): decoded values reach 10^4, far above
    1024, yet only the events at the top channel (1023) are saturated."""
    rng = np.random.default_rng(5)
    raw = np.column_stack([rng.integers(300, 1000, 1000), rng.integers(200, 1000, 1000)])
    raw = np.column_stack([raw, rng.integers(0, 1024, 1000)]).astype(float)
    raw[:10, 0] = 1023  # saturated forward scatter
    path = write_fcs(
        tmp_path / "log.fcs",
        raw,
        ["FSC-H", "SSC-H", "FL1-H"],
        datatype="I",
        bits=16,
        extra={"$P1E": "4,1", "$P2E": "4,1"},
    )
    sample = read_fcs(path)
    assert sample.events[:, 0].max() > 1024  # decoded: far above the raw range
    gate = scatter_gate(sample, debris_percentile=0)
    kept = gate.apply(sample)
    assert not kept[:10].any()
    assert kept[10:].all()  # before issue 16: every event above 1023 (decoded) was dropped


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_damaged_file_is_read_or_refused_never_a_crash(data: st.DataObject) -> None:
    """Bytes overwritten anywhere, or the file cut anywhere: the reader returns a sample or
    raises FcsError; never another exception, never an allocation beyond the file's means."""
    kind = data.draw(st.sampled_from(["I16", "I24", "F", "A", "A*", "I10", "two"]))
    events = _events(1024, rows=40)
    options = {
        "I16": {"datatype": "I", "bits": 16},
        "I24": {"datatype": "I", "bits": 24, "byteord": "4,3,2,1"},
        "F": {"datatype": "F"},
        "A": {"datatype": "A", "bits": 4},
        "A*": {"datatype": "A", "delimited": True},
        "I10": {"datatype": "I", "bits": 10, "packed": True},
        "two": {"datatype": "I", "bits": 16},
    }[kind]
    if kind == "two":
        blob = bytearray(chain((events, CHANNELS, options), (events, CHANNELS, {})))
    else:
        blob = bytearray(fcs_bytes(events, CHANNELS, **options))  # type: ignore[arg-type]
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] = data.draw(st.sampled_from(b"0123456789 |$,*-.eE\x00\xff9"))
    cut = data.draw(st.integers(0, len(blob)))
    damaged = bytes(blob[: cut or len(blob)])
    refusals = []
    for dataset in (None, 1, 2):
        try:
            sample = parse_fcs(damaged, "fuzz.fcs", strict=False, dataset=dataset)
        except FcsError as error:
            refusals.append(error.message)
            continue
        assert sample.events.size <= len(damaged) * 8
    assert all(message.startswith("fuzz.fcs: ") for message in refusals)
