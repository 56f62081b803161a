"""Benchmark: FCS read + compensation + cells gate, alstrial beside FlowKit, same files, one run.

Goal (issue 5): at least 2x FlowKit's throughput in events per second. Reads the real
instrument files of ``../shared/flow-reference`` (FCS 2.0 FACSCalibur, FCS 3.0 FACSDiva with
an 8x8 SPILL, FCS 3.0 LSR-II), or, without ``../shared``, files written here. For each file,
both tools read it, compensate when it carries a spillover matrix, and gate cells on a
rectangle on FSC/SSC with the same bounds; the gate counts must agree. FlowKit is optional
(``pip install 'alstrial[bench]'``); without it only alstrial is timed.
Run: ``.venv/bin/python bench/bench_flow.py``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from alstrial.manufacturing.fcs import read_fcs
from alstrial.manufacturing.flow import compensate, scatter_gate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "flow-reference"
FILES = ("facscalibur_fcs2.0.fcs", "bd_facsdiva_fcs3.0.fcs", "bd_lsr2_fcs3.0.fcs")
RUNS = 7


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


def _median(work: object, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


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
