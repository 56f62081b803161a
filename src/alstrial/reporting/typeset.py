"""Typesetting with Typst: the one route from a Jinja template to a PDF (the report and the
release certificate), with the compiler that ships in the ``typst`` wheel.

Every value from the data enters the Typst source as a string literal (:func:`typst_string`),
never as markup, so no stored text can change the document's structure. Only the fonts
Typst embeds are used, so a document comes out the same on every machine.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["template_environment", "typeset_pdf", "typst_string"]


def typst_string(value: object) -> str:
    """``value`` as a Typst string literal; empty for None and NaN."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    text = "" if missing else str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def template_environment(
    *, autoescape: bool, filters: Mapping[str, Any] = {}
) -> jinja2.Environment:
    """A Jinja environment over ``alstrial/reporting/templates`` (strict about undefined
    names) with the ``t`` filter (:func:`typst_string`) and ``filters``."""
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (
                resources.files("alstrial.reporting").joinpath("templates", name).read_text("utf-8")
            )
        ),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["t"] = typst_string
    environment.filters.update(filters)
    return environment


def typeset_pdf(source: str, *, moment: datetime, files: Mapping[str, str] = {}) -> bytes:
    """Compile Typst ``source`` to a PDF dated ``moment``; ``files`` (name to text, e.g. an
    SVG figure) are placed beside it."""
    import typst

    with tempfile.TemporaryDirectory(prefix="alstrial-typst-") as folder:
        root = Path(folder)
        for name, text in files.items():
            (root / name).write_text(text, encoding="utf-8")
        (root / "main.typ").write_text(source, encoding="utf-8")
        pdf: bytes = typst.compile(
            str(root / "main.typ"),
            root=str(root),
            ignore_system_fonts=True,
            timestamp=int(moment.timestamp()),
        )
    return pdf
