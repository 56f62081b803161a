"""Benchmark: ``alstrial export`` of the reference trial (issue 19).

Goal: the reference trial (14 patients, synthetic per-visit values) in every format < 5 s.
The study is built once with the demo's loader into a real SQLite file; each format is then
exported 5 times, with and without a data cut (rebuilt from the audit trail), and the median
wall time printed with the CPU model. The issue's 10,000 subjects x 10 visits (< 60 s,
< 2 GiB) are measured by ``bench/bench_export_large.py``.
Run: ``.venv/bin/python bench/bench_export.py``.
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

from alstrial.interop.data_cut import parse_cut  # noqa: E402
from alstrial.interop.reference_trial import load_reference_trial  # noqa: E402
from alstrial.interop.study_export import EXPORT_FORMATS, export_study  # noqa: E402
from alstrial.store import make_engine, make_session_factory  # noqa: E402
from alstrial.store.audit import AuditHead  # noqa: E402
from alstrial.store.migrate import upgrade_to_head  # noqa: E402

ROUNDS = 5


def main() -> None:
    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'trial.db'}"
        engine = make_engine(url)
        upgrade_to_head(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            load_reference_trial(session)
            head = session.get(AuditHead, 1)
            assert head is not None
            half = parse_cut(f"seq:{head.last_seq // 2}")
            print(f"reference trial: {head.last_seq} audit events (SYNTHETIC per-visit values)")
            for fmt in EXPORT_FORMATS:
                for cut, what in ((None, "now"), (half, "cut at half the trail")):
                    times = []
                    for n in range(ROUNDS):
                        started = time.perf_counter()
                        export_study(
                            session,
                            fmt,
                            Path(folder) / f"{fmt}-{what[:3]}-{n}",
                            actor="bench",
                            cut=cut,
                        )
                        times.append(time.perf_counter() - started)
                    print(
                        f"{fmt:6s} {what:22s} median {statistics.median(times):.2f} s "
                        f"(min {min(times):.2f}, max {max(times):.2f}; goal < 5 s)"
                    )
        engine.dispose()


if __name__ == "__main__":
    main()
