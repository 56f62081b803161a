"""Benchmark: the trial report of the reference trial as HTML and as PDF (issue 18).

Goal: ``alstrial report --format pdf`` on the demo in < 10 s. The demo store is built once
into a real SQLite file; the report (frames, analyses, figure, rendering) is then written
3 times in each format and the median wall time printed with the CPU model, with the time
Typst takes to typeset the PDF on its own.
Run: ``.venv/bin/python bench/bench_report.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402

from alstrial.interop.reference_trial import load_reference_trial  # noqa: E402
from alstrial.reporting.provenance import data_provenance  # noqa: E402
from alstrial.reporting.report import build_report, render_pdf, write_report  # noqa: E402
from alstrial.services import build_analysis_frames  # noqa: E402
from alstrial.store import make_engine, make_session_factory  # noqa: E402
from alstrial.store.migrate import upgrade_to_head  # noqa: E402

ROUNDS = 3


def main() -> None:
    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'trial.db'}")
        upgrade_to_head(engine)
        with make_session_factory(engine)() as session:
            load_reference_trial(session)
            for fmt in ("html", "pdf"):
                times = []
                for n in range(ROUNDS):
                    started = time.perf_counter()
                    frames = build_analysis_frames(session)
                    write_report(
                        frames, Path(folder) / f"r{n}.{fmt}", data_provenance(session), fmt=fmt
                    )
                    times.append(time.perf_counter() - started)
                print(
                    f"report {fmt:4s} median {statistics.median(times):.2f} s "
                    f"(min {min(times):.2f}, max {max(times):.2f}; goal for pdf < 10 s)"
                )
            report = build_report(build_analysis_frames(session), data_provenance(session))
            typeset = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                render_pdf(report)
                typeset.append(time.perf_counter() - started)
            print(f"Typst alone median {statistics.median(typeset):.2f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
