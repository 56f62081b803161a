"""Benchmark: FCS files read and gated, alstrial beside FlowIO and FlowKit, in one run.

1. **Read, every data type** (issue 16): events per second of alstrial's ``read_fcs`` (linear
   values) against FlowIO's ``FlowData`` + ``as_array(preprocess=True)`` on files written here
   (1,000,000 events x 8 channels per type, values checked equal); goal >= 2x FlowIO for every
   type. Then the peak memory of reading a 10-million-event file, also with blank HEADER
   offsets, against its float64 event matrix (goal < 2x), as ``tracemalloc`` traces numpy.
2. **Read + compensation + cells gate** (issue 5): the real instrument files of
   ``../shared/flow-reference`` (or a written file without it), alstrial beside FlowKit (goal
   >= 2x; FlowKit is optional: ``pip install 'alstrial[bench]'``); the gate counts must agree.

Run: ``.venv/bin/python bench/bench_flow.py [--events N] [--memory-events N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "flow-reference"
FILES = ("facscalibur_fcs2.0.fcs", "bd_facsdiva_fcs3.0.fcs", "bd_lsr2_fcs3.0.fcs")
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402
from tests.fcs_writer import fcs_bytes  # noqa: E402

from alstrial.manufacturing.fcs import read_fcs  # noqa: E402
from alstrial.manufacturing.flow import compensate, scatter_gate  # noqa: E402

CHANNELS = ["FSC-A", "SSC-A", "FL1-A", "FL2-A", "FL3-A", "FL4-A", "FL5-A", "Time"]
RUNS = 5
#: name, $DATATYPE, $PnB, $PnR, numpy dtype of the stored values, $BYTEORD
TYPES = (
    ("integer 16-bit, $PnR 1024 (FACSCalibur)", "I", 16, 1024, "<u2", "1,2"),
    ("integer 16-bit, $PnR 65536", "I", 16, 65536, "<u2", "1,2"),
    ("integer 32-bit, $PnR 262144 (MoFlo XDP)", "I", 32, 262144, ">u4", "4,3,2,1"),
    ("integer 32-bit, $PnR 2^32 (no masking)", "I", 32, 2**32, "<u4", "1,2,3,4"),
    ("integer 24-bit, $PnR 1024 (Cytek xP5)", "I", 24, 1024, None, "4,3,2,1"),
    ("float 32-bit (BD FACSDiva)", "F", 32, 262144, ">f4", "4,3,2,1"),
    ("float 64-bit", "D", 64, 262144, "<f8", "1,2,3,4,5,6,7,8"),
)


def _write(folder: Path, spec: tuple[str, str, int, int, str | None, str], events: int) -> Path:
    _, datatype, bits, top, dtype, byteord = spec
    rng = np.random.default_rng(7)
    values = rng.integers(0, top, size=(events, len(CHANNELS)))
    if dtype is None:  # 24-bit big-endian: the low three bytes of each big-endian uint32
        raw = values.astype(">u4").view(np.uint8).reshape(events, len(CHANNELS), 4)[..., 1:]
        data = raw.tobytes()
    else:
        data = values.astype(dtype).tobytes()
    blob = fcs_bytes(
        np.empty((events, len(CHANNELS))),
        CHANNELS,
        datatype=datatype,
        bits=bits,
        ranges=top,
        byteord=byteord,
        raw_override=data,
        extra={"$TIMESTEP": "0.01", "$P3E": "4,1"} if datatype == "I" else {"$TIMESTEP": "0.01"},
    )
    path = folder / f"{datatype}{bits}_{top}.fcs"
    path.write_bytes(blob)
    return path


def _median(work: object, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _flowio(path: Path) -> np.ndarray | None:
    import flowio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = flowio.FlowData(str(path))
        if data.events is None:
            return None
        return np.asarray(data.as_array(preprocess=True))


def _peak_ratio(path: Path, events: int) -> tuple[float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    sample = read_fcs(path)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    matrix = events * len(CHANNELS) * 8
    assert sample.events.nbytes == matrix
    return peak / matrix, elapsed


def _alstrial(path: Path) -> tuple[int, object]:
    sample = read_fcs(path)
    events = compensate(sample) if sample.spillover is not None else sample.events
    gate = scatter_gate(sample)
    return int(gate.apply(sample, events).sum()), gate


def _flowkit(path: Path, gate: object) -> int:
    import flowkit as fk

    sample = fk.Sample(str(path))
    if "spill" in sample.metadata or "spillover" in sample.metadata:
        sample.apply_compensation(sample.metadata.get("spill") or sample.metadata["spillover"])
    dims = [
        fk.Dimension(gate.fsc, range_min=gate.fsc_min, range_max=gate.fsc_max),  # type: ignore[attr-defined]
        fk.Dimension(
            gate.ssc,
            range_min=None if np.isinf(gate.ssc_min) else gate.ssc_min,  # type: ignore[attr-defined]
            range_max=gate.ssc_max,
        ),  # type: ignore[attr-defined]
    ]
    strategy = fk.GatingStrategy()
    strategy.add_gate(fk.gates.RectangleGate("cells", dimensions=dims), gate_path=("root",))
    return int(strategy.gate_sample(sample).get_gate_count("cells"))


def _files() -> list[Path]:
    if SHARED.is_dir():
        return [SHARED / name for name in FILES]
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.fcs_writer import write_fcs

    folder = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(1)
    events = rng.uniform(0, 1000, size=(100_000, 6))
    return [write_fcs(folder / "written.fcs", events, ["FSC-A", "SSC-A", "A", "B", "C", "D"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--memory-events", type=int, default=10_000_000)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    print(f"FCS read to linear float64, {args.events:,} events x {len(CHANNELS)} channels; "
          f"medians of {RUNS} runs (FlowIO: 3)")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for spec in TYPES:
            path = _write(Path(folder), spec, args.events)
            ours = _median(lambda path=path: read_fcs(path), RUNS)
            line = f"{spec[0]}: alstrial {args.events / ours / 1e6:.2f} M events/s"
            theirs_values = _flowio(path)
            if theirs_values is None:
                line += "; FlowIO cannot read this width"
            else:
                same = np.allclose(theirs_values, read_fcs(path).events, rtol=1e-12, atol=0)
                theirs = _median(lambda path=path: _flowio(path), 3)
                line += (
                    f"; FlowIO {args.events / theirs / 1e6:.2f} M events/s; "
                    f"ratio {theirs / ours:.1f}x ({'same values' if same else 'VALUES DIFFER'})"
                )
            print(line, flush=True)
            path.unlink()
        spec = next(t for t in TYPES if t[1] == "F")
        path = _write(Path(folder), spec, args.memory_events)
        ratio, elapsed = _peak_ratio(path, args.memory_events)
        matrix_mb = args.memory_events * len(CHANNELS) * 8 / 1e6
        print(
            f"peak memory reading {args.memory_events:,} events ({spec[0]}, matrix "
            f"{matrix_mb:.0f} MB): {ratio:.2f}x the event matrix ({elapsed:.1f} s)"
        )
        blob = bytearray(path.read_bytes())
        blob[26:42] = b" " * 16  # HEADER DATA offsets blank: TEXT's are used
        path.write_bytes(bytes(blob))
        del blob
        ratio, elapsed = _peak_ratio(path, args.memory_events)
        print(f"  with blank HEADER offsets: {ratio:.2f}x the event matrix ({elapsed:.1f} s)")
    _pipeline()


def _pipeline() -> None:
    try:
        import flowkit  # noqa: F401

        have_flowkit = True
    except ImportError:
        have_flowkit = False
        print("FlowKit is not installed (pip install 'alstrial[bench]'): alstrial only")
    print(f"FCS read + compensation + FSC/SSC cells gate; medians of {RUNS} runs")
    totals = {"events": 0, "ours": 0.0, "theirs": 0.0}
    for path in _files():
        count, gate = _alstrial(path)
        total = read_fcs(path).events.shape[0]
        ours = _median(lambda path=path: _alstrial(path))
        line = (
            f"{path.name}: {total:,} events; alstrial {ours * 1000:.1f} ms "
            f"({total / ours / 1e6:.2f} M events/s)"
        )
        totals["events"] += total
        totals["ours"] += ours
        if have_flowkit:
            theirs_count = _flowkit(path, gate)
            theirs = _median(lambda path=path, gate=gate: _flowkit(path, gate), 3)
            agree = (
                "same gate count"
                if theirs_count == count
                else f"gate counts {count} vs {theirs_count}"
            )
            line += f"; FlowKit {theirs * 1000:.1f} ms; ratio {theirs / ours:.1f}x ({agree})"
            totals["theirs"] += theirs
        print(line)
    rate = totals["events"] / totals["ours"] / 1e6
    summary = f"all files: alstrial {rate:.2f} M events/s"
    if totals["theirs"]:
        their_rate = totals["events"] / totals["theirs"] / 1e6
        summary += f"; FlowKit {their_rate:.2f} M events/s; ratio {rate / their_rate:.1f}x"
    print(summary)


if __name__ == "__main__":
    main()
