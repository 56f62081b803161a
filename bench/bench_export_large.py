"""Benchmark: ``alstrial export`` of 10,000 synthetic subjects x 10 visits (issue 19).

Goal: each format in < 60 s and < 2 GiB peak memory on this 2-core machine.

The store (a real SQLite file) holds the reference protocol and, per subject, a screening,
an enrolment, the protocol's 10 visits (held), a released batch and its intravenous or
intrathecal administration, and an ALSFRS-R rating and a spirometry at each of the 8 visits
that schedule them: 10,000 subjects give 100,000 visits and 160,000 ratings. Every value is
SYNTHETIC (seeded) and marked so. The rows are written with bulk INSERTs, not through the
audited services (which take about 2 ms per row: an hour for this store); the benchmark
measures the export, which reads the store as it is. Each format is exported in its own
Python process, so the peak resident memory printed (``ru_maxrss`` of that process) is the
export's alone.
Run: ``.venv/bin/python bench/bench_export_large.py [--subjects 10000] [--formats csv,spss]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402

WORKER = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from alstrial.interop.study_export import export_study
    from alstrial.store import make_engine, make_session_factory
    url, fmt, out = sys.argv[1], sys.argv[2], sys.argv[3]
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        started = time.perf_counter()
        manifest = export_study(session, fmt, Path(out), actor="bench")
        seconds = time.perf_counter() - started
    rows = sum(f.rows for f in manifest.files)
    size = sum(p.stat().st_size for p in Path(out).iterdir())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({"seconds": seconds, "peak_gib": peak, "rows": rows, "mib": size / 2**20}))
    """
)


def build(url: str, subjects: int) -> float:
    """Fill a new store at ``url`` (module docstring); the seconds it took."""
    import numpy as np
    from sqlalchemy import insert, select

    from alstrial.protocol import parse_protocol, reference_protocol_text
    from alstrial.services.setup import add_site, create_study
    from alstrial.store import make_engine, make_session_factory
    from alstrial.store.migrate import upgrade_to_head
    from alstrial.store.models import (
        Administration,
        AlsfrsAssessment,
        Enrolment,
        ProductBatch,
        ProtocolVersion,
        Screening,
        Spirometry,
        Subject,
        Visit,
    )
    from alstrial.vocabulary import (
        OnsetRegion,
        Provenance,
        ReleaseStatus,
        Sex,
        VisitStatus,
    )

    started = time.perf_counter()
    engine = make_engine(url)
    upgrade_to_head(engine)
    text = reference_protocol_text()
    protocol = parse_protocol(text)
    rng = np.random.default_rng(20261203)
    synthetic = Provenance.SYNTHETIC
    with make_session_factory(engine)() as session:
        study = create_study(session, actor="bench", protocol_text=text)
        site = add_site(session, actor="bench", code="BENCH", name="Benchmark site")
        version = session.scalars(select(ProtocolVersion)).one()
        first = date(2020, 1, 6)
        arms = [a.code for a in protocol.arms]
        routes = {a.code: a.route for a in protocol.arms}
        session.commit()
        with session.begin():
            session.execute(
                insert(Subject),
                [
                    {
                        "id": i + 1,
                        "study_id": study.id,
                        "site_id": site.id,
                        "study_code": f"B{i + 1:05d}",
                        "sex": Sex.MALE if i % 2 else Sex.FEMALE,
                        "age_years": int(rng.integers(30, 75)),
                        "height_cm": 170.0,
                        "weight_kg": 70.0,
                        "onset_region": OnsetRegion.LIMB,
                        "riluzole": True,
                        "provenance": synthetic,
                    }
                    for i in range(subjects)
                ],
            )
            session.execute(
                insert(Screening),
                [
                    {
                        "id": i + 1,
                        "subject_id": i + 1,
                        "protocol_version_id": version.id,
                        "screening_date": first + timedelta(days=i % 365),
                        "data": {},
                        "results": [],
                        "eligible": True,
                    }
                    for i in range(subjects)
                ],
            )
            day0 = [first + timedelta(days=i % 365 + 60) for i in range(subjects)]
            session.execute(
                insert(Enrolment),
                [
                    {
                        "subject_id": i + 1,
                        "screening_id": i + 1,
                        "arm_code": arms[i % len(arms)],
                        "enrolment_date": first + timedelta(days=i % 365),
                        "planned_administration_date": day0[i],
                    }
                    for i in range(subjects)
                ],
            )
            visits, ratings, spirometry = [], [], []
            administration_visit = {}
            visit_id = 0
            for i in range(subjects):
                decline = rng.normal(0.9, 0.3)
                for v in protocol.visits:
                    visit_id += 1
                    when = day0[i] + timedelta(days=v.day)
                    visits.append(
                        {
                            "id": visit_id,
                            "subject_id": i + 1,
                            "code": v.code,
                            "day": v.day,
                            "planned_date": when,
                            "window_start": when - timedelta(days=v.window_before),
                            "window_end": when + timedelta(days=v.window_after),
                            "actual_date": when,
                            "status": VisitStatus.DONE,
                        }
                    )
                    if "administration" in v.assessments:
                        administration_visit[i] = visit_id
                    if "alsfrs_r" in v.assessments:
                        months = max(v.day, 0) / 30.44
                        total = int(np.clip(round(40 - decline * months), 0, 48))
                        items = [4] * 12
                        for k in range(48 - total):
                            items[k % 12] -= 1
                        ratings.append(
                            {
                                "subject_id": i + 1,
                                "visit_id": visit_id,
                                "assessment_date": when,
                                "scale_version": "ALSFRS-R",
                                **{
                                    f"item_{n}": s
                                    for n, s in zip(
                                        (1, 2, 3, 4, "5a", 6, 7, 8, 9, 10, 11, 12),
                                        items,
                                        strict=True,
                                    )
                                },
                                "item_5b": None,
                                "total": sum(items),
                                "provenance": synthetic,
                            }
                        )
                    if "spirometry" in v.assessments:
                        litres = float(rng.normal(3.2, 0.4))
                        spirometry.append(
                            {
                                "subject_id": i + 1,
                                "visit_id": visit_id,
                                "assessment_date": when,
                                "fvc_litres": round(litres, 2),
                                "percent_predicted": round(litres / 4.0 * 100, 1),
                                "equation": "gli-global",
                                "predicted_litres": 4.0,
                                "z_score": round((litres - 4.0) / 0.5, 2),
                                "lln_litres": 3.2,
                                "provenance": synthetic,
                            }
                        )
            for table, rows in (
                (Visit, visits),
                (AlsfrsAssessment, ratings),
                (Spirometry, spirometry),
            ):
                for start in range(0, len(rows), 20_000):
                    session.execute(insert(table), rows[start : start + 20_000])
            session.execute(
                insert(ProductBatch),
                [
                    {
                        "id": i + 1,
                        "batch_code": f"MSC-B{i + 1:05d}",
                        "source_subject_id": i + 1,
                        "final_cell_count": 1.5e8,
                        "viability_pct": 95.0,
                        "bacteriology": "NC",
                        "mycoplasma": "NC",
                        "endotoxin_eu_per_ml": 0.1,
                        "endotoxin_below_loq": True,
                        "karyotype": "46XY",
                        "provenance": synthetic,
                        "release_status": ReleaseStatus.RELEASED,
                    }
                    for i in range(subjects)
                ],
            )
            session.execute(
                insert(Administration),
                [
                    {
                        "subject_id": i + 1,
                        "visit_id": administration_visit[i],
                        "administered_at": datetime.combine(day0[i], datetime.min.time())
                        + timedelta(hours=9),
                        "route": routes[arms[i % len(arms)]],
                        "product_batch_id": i + 1,
                        "cells_given": 1.4e8,
                        "volume_ml": 5.0,
                        "provenance": synthetic,
                    }
                    for i in range(subjects)
                ],
            )
    engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    from alstrial.interop.study_export import EXPORT_FORMATS

    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--formats", default=",".join(EXPORT_FORMATS))
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'large.db'}"
        seconds = build(url, args.subjects)
        print(
            f"store: {args.subjects:,} SYNTHETIC subjects x 10 visits built in {seconds:.0f} s "
            "(bulk INSERT, not audited)"
        )
        for fmt in args.formats.split(","):
            out = Path(folder) / f"out-{fmt}"
            done = subprocess.run(
                [sys.executable, "-c", WORKER, url, fmt, str(out)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"{fmt:8s} FAILED: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{fmt:8s} {r['seconds']:6.1f} s  peak {r['peak_gib']:.2f} GiB  "
                f"{r['rows']:>9,} rows  {r['mib']:7.1f} MiB  (goal < 60 s, < 2 GiB)"
            )


if __name__ == "__main__":
    main()
