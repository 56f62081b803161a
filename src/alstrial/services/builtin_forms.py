"""The built-in forms as declared in ``alstrial/data/builtin_forms.toml``, with alstrial's
catalogues filled in: the one place the web's forms and the exports (the REDCap project) read
them from, so that both offer the same fields and choices."""

from __future__ import annotations

from alstrial.protocol.builtin_forms import BuiltinForm, load_builtin_forms
from alstrial.safety.events import SERIOUSNESS_CRITERIA
from alstrial.safety.labs import ANALYTES, QUALITATIVE_RESULTS, QUALITATIVE_TESTS
from alstrial.safety.mri import REGIONS
from alstrial.services.completeness import ASSESSMENT_RECORDS

__all__ = ["BUILTIN_CATALOGUES", "BUILTIN_FORMS"]

#: The catalogues a declaration's ``choices_from`` names (alstrial's own lists).
BUILTIN_CATALOGUES: dict[str, tuple[tuple[str, str], ...]] = {
    "analytes": tuple((a.code, f"{a.code}: {a.name}") for a in ANALYTES.values()),
    "qualitative_tests": tuple(
        (f"{panel}: {test}", f"{panel}: {test}")
        for panel, tests in QUALITATIVE_TESTS.items()
        for test in tests
    ),
    "qualitative_results": tuple((r, r) for r in QUALITATIVE_RESULTS),
    "mri_regions": tuple((r, r) for r in REGIONS),
    "seriousness_criteria": tuple((c, c.replace("_", " ")) for c in SERIOUSNESS_CRITERIA),
    "assessments": tuple((a, a.replace("_", " ")) for a in ASSESSMENT_RECORDS),
}

#: The built-in forms by name (issue 17).
BUILTIN_FORMS: dict[str, BuiltinForm] = load_builtin_forms(BUILTIN_CATALOGUES)
