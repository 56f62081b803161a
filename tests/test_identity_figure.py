"""Fig. 2 (issue 18, item 3): each batch's identity panel drawn from the histograms stored
with its results when the cytometer's files were analysed; the percentages shown are the
stored ones, and batches entered as numbers are named, not drawn."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.manufacturing.flow import marker_histogram
from alstrial.reporting.identity_figure import figure_identity, identity_panels
from alstrial.reporting.report import build_store_report, render_html, render_pdf
from alstrial.services.flow_identity import FcsUpload, record_identity_from_fcs
from alstrial.store.models import FlowMarkerResult
from tests.fcs_writer import fcs_bytes
from tests.helpers import ACTOR, batch, enrolled


def _tubes() -> tuple[bytes, bytes]:
    """A stained tube (CD73 bright on 90 % of the cells) and its isotype, as FCS 3.1."""
    rng = np.random.default_rng(7)
    n = 4000
    scatter = np.column_stack([rng.uniform(200, 800, n), rng.uniform(100, 600, n)])
    isotype = np.column_stack([scatter, rng.lognormal(3.5, 0.4, n), rng.lognormal(3.5, 0.4, n)])
    stained = isotype.copy()
    stained[: int(0.9 * n), 2] = rng.lognormal(7.0, 0.3, int(0.9 * n))
    channels = ["FSC-H", "SSC-H", "FL1-H", "FL2-H"]
    markers = ["", "", "CD73", "CD45"]
    return fcs_bytes(stained, channels, markers=markers), fcs_bytes(
        isotype, channels, markers=markers
    )


def test_the_histograms_are_stored_and_drawn_with_the_stored_percentages(
    session: Session,
) -> None:
    enrolled(session, "S01")
    enrolled(session, "S02")
    code = batch(session, "S01", release=False)
    batch(session, "S02")  # identity entered as numbers: not drawn
    stained, isotype = _tubes()
    results = record_identity_from_fcs(
        session,
        actor=ACTOR,
        batch_code=code,
        stained=FcsUpload("stained.fcs", stained),
        isotype=FcsUpload("isotype.fcs", isotype),
        markers=["CD73", "CD45"],
    )
    stored = {
        r.marker: r
        for r in session.scalars(
            select(FlowMarkerResult).where(FlowMarkerResult.histogram.is_not(None))
        )
    }
    assert set(stored) == {"CD73", "CD45"}
    for result in results:
        histogram = stored[result.marker].histogram
        assert histogram is not None
        assert len(histogram["edges"]) == len(histogram["stained"]) + 1 == 65
        assert sum(histogram["stained"]) == result.stained_events  # every gated event counted
        assert sum(histogram["isotype"]) == result.isotype_events
    panels = {p.batch: p for p in identity_panels(session)}
    assert panels[code].drawn
    assert not panels["B-S02"].drawn
    svg = figure_identity(panels[code])
    titles = {
        g.get("id"): "".join(g.itertext()).strip()
        for g in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g")
        if (g.get("id") or "").startswith("identity-")
    }
    for marker, row in stored.items():
        assert (
            titles[f"identity-{code}-{marker}"]
            == f"{marker}: {row.percent_positive:.1f} % positive"
        )
    assert stored["CD73"].percent_positive > 85
    report = build_store_report(session)
    assert [b for b, _ in report.identity or []] == [code]
    assert report.identity_undrawn == ("B-S02",)
    html = render_html(report)
    assert 'id="figure2"' in html
    assert "No histogram for 1 batch(es) (B-S02)" in html
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(report))).pages)
    assert "Figure 2: identity of each batch" in text
    assert f"CD73: {stored['CD73'].percent_positive:.1f} % positive" in text  # vector text


def test_a_histogram_counts_every_value_in_log_bins() -> None:
    values = np.array([0.5, 5.0, 50.0, 500.0, 5000.0, 1e6])
    histogram = marker_histogram(values, values[:3], bins=8)
    edges = histogram["edges"]
    assert edges == sorted(edges)
    assert np.allclose(np.diff(np.log10(edges)), np.log10(edges[1] / edges[0]))
    assert sum(histogram["stained"]) == 6  # values outside the span go to the end bins
    assert sum(histogram["isotype"]) == 3
