"""The study definition as pydantic models: arms, visit schedule, eligibility, release spec.

A protocol is data (a TOML file, see ``alstrial/data/reference_protocol.toml``), validated by
these models. Days are relative to the administration day (day 0); a visit's window is
``[day - window_before, day + window_after]``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alstrial.protocol.dictionary import DictionaryForm

__all__ = [
    "ASSESSMENTS",
    "LEGACY_ASSESSMENTS",
    "Arm",
    "ChecklistTerm",
    "EligibilityCriterion",
    "Protocol",
    "ReleaseCriterion",
    "StudyInfo",
    "Visit",
]

#: Assessments a visit may schedule that alstrial records in its own tables (a protocol adds
#: its own forms, :mod:`alstrial.protocol.dictionary`).
ASSESSMENTS: frozenset[str] = frozenset(
    {
        "eligibility",
        "alsfrs_r",
        "spirometry",
        "labs",
        "vitals",
        "adverse_events",
        "administration",
        "mri",
    }
)

#: Assessments a protocol stored before forms were data could schedule without a form (the
#: reference protocol 1.0 scheduled ``physical_exam``). Such a stored version still reads;
#: a new protocol or an amendment that schedules one without declaring its form is refused
#: (:func:`Protocol.problems`).
LEGACY_ASSESSMENTS: frozenset[str] = frozenset({"physical_exam"})

Route = Literal["intravenous", "intrathecal"]
Operator = Literal[">=", ">", "<=", "<", "==", "!=", "in", "not_in"]


class _Strict(BaseModel):
    # allow_inf_nan=False: an infinite dose or window is refused by name (issue 14).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StudyInfo(_Strict):
    """Identity of the study."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = Field(min_length=1)
    sponsor: str = ""
    phase: str = ""
    protocol_version: str = Field(min_length=1)
    registrations: tuple[str, ...] = ()
    #: ISO 3166-1 alpha-3 code of the country where the trial runs (SDTM DM.COUNTRY and
    #: TS.FCNTRY); ``alstrial export sdtm`` refuses a protocol without it.
    country: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    #: The functional rating scale every rating of the study uses (the two are never mixed).
    alsfrs_scale: Literal["ALSFRS-R", "ALSFRS"] = "ALSFRS-R"
    #: The reference equation for FVC % predicted computed from litres.
    spirometry_equation: Literal["gli-global", "gli2012"] = "gli-global"


class Arm(_Strict):
    """A treatment arm: route, dose per kg of body weight, volume and excipient."""

    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1)
    route: Route
    dose_cells_per_kg: float = Field(gt=0)
    dose_tolerance_pct: float = Field(default=10.0, ge=0, le=100)
    volume_ml: float = Field(gt=0)
    excipient: str = ""
    registration: str = ""


class Visit(_Strict):
    """A scheduled visit: code, nominal day relative to administration, window, assessments."""

    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_+-]+$")
    label: str = Field(min_length=1)
    day: int = Field(ge=-3650, le=3650)
    window_before: int = Field(default=0, ge=0, le=365)
    window_after: int = Field(default=0, ge=0, le=365)
    assessments: tuple[str, ...] = ()

    @field_validator("assessments")
    @classmethod
    def _known_assessments(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # The protocol's visit forms add to the built-in assessments: parse_protocol passes
        # their names as the context, so that an unknown one is reported at this key.
        # Protocol._check_forms checks again (a Protocol built without the context).
        context = info.context or {}
        known = ASSESSMENTS | LEGACY_ASSESSMENTS | set(context.get("visit_forms", ()))
        unknown = sorted(set(value) - known)
        if unknown and "visit_forms" in context:
            raise ValueError(
                f"unknown assessment(s) {', '.join(unknown)}; expected one of "
                f"{', '.join(sorted(known))}"
            )
        return value


class EligibilityCriterion(_Strict):
    """One inclusion or exclusion criterion as a rule on a screening field.

    For an inclusion criterion the rule must hold; for an exclusion criterion the rule
    describes the excluding condition, so it must not hold.
    """

    id: str = Field(min_length=1, max_length=20)
    kind: Literal["inclusion", "exclusion"]
    text: str = Field(min_length=1)
    field: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    operator: Operator
    value: float | bool | str | tuple[float | str, ...]

    @model_validator(mode="after")
    def _operator_fits_value(self) -> EligibilityCriterion:
        is_list = isinstance(self.value, tuple)
        if self.operator in ("in", "not_in") and not is_list:
            raise ValueError(f"operator {self.operator!r} needs a list value")
        if self.operator not in ("in", "not_in") and is_list:
            raise ValueError(f"operator {self.operator!r} needs a single value, not a list")
        ordered = self.operator in (">=", ">", "<=", "<")
        if ordered and (isinstance(self.value, bool) or not isinstance(self.value, float | int)):
            raise ValueError(f"operator {self.operator!r} needs a number")
        return self


class ReleaseCriterion(_Strict):
    """One test of the release specification: a numeric range or an expected result.

    Two tests need no limit: ``endotoxin`` (EU/kg against K for the arm's route unless
    ``upper`` is set) and ``identity`` (flow cytometry against the ISCT criteria).
    """

    test: str = Field(min_length=1)
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    lower_inclusive: bool = True
    upper_inclusive: bool = True
    expected: str | None = None
    #: For ``identity``: the markers the protocol's panel tests. Release needs a passing
    #: result for each; ISCT markers outside the panel are stated as deviations. Empty: the
    #: whole ISCT set is required.
    markers: tuple[str, ...] = ()
    #: For ``identity``: the cytometer's forward and side scatter channels ($PnN) for the
    #: cells gate, where its names are not among those recognised (FSC-A, FS INT LIN, ...).
    fsc: str | None = None
    ssc: str | None = None

    @model_validator(mode="after")
    def _has_a_limit(self) -> ReleaseCriterion:
        if (self.markers or self.fsc or self.ssc) and self.test != "identity":
            raise ValueError(
                f"release test {self.test!r}: markers, fsc and ssc are for identity only"
            )
        special = self.test in ("endotoxin", "identity")
        if self.lower is None and self.upper is None and self.expected is None and not special:
            raise ValueError(f"release test {self.test!r} needs lower, upper or expected")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"release test {self.test!r}: lower {self.lower} > upper {self.upper}")
        return self


class StoppingRuleSpec(_Strict):
    """A stopping rule: how many matching adverse events stop administrations."""

    id: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1)
    threshold: int = Field(default=1, ge=1)
    min_grade: int = Field(default=1, ge=1, le=5)
    related: bool = True
    serious_only: bool = False
    term: str | None = None


class ChecklistTerm(_Strict):
    """A solicited adverse-event term of the protocol's checklist."""

    category: str = Field(min_length=1)
    term: str = Field(min_length=1)


class SoftCheck(_Strict):
    """A value a visit form may save but that deserves a second look (a soft check): shown as
    a warning while the form is filled in and, when the protocol sets ``auto_queries``,
    opened as a query on the field once the record is saved."""

    id: str = Field(min_length=1)
    form: str = Field(min_length=1)  # a visit form: alsfrs, spirometry, vitals, lab, ...
    field: str = Field(min_length=1)  # a column of the record the form saves
    operator: Literal["<", "<=", ">", ">="]
    value: float
    message: str = Field(min_length=1)


#: What a patient must satisfy to belong to an analysis set (all of a set's criteria).
AnalysisCriterion = Literal[
    "enrolled", "treated", "baseline_rating", "followup_rating", "completed", "visits_in_window"
]


class AnalysisSets(_Strict):
    """The analysis sets of the statistical analysis plan, each a list of criteria that a
    patient must all satisfy: ``enrolled``; ``treated`` (received the cell product);
    ``baseline_rating`` (an ALSFRS-R rating on or before the administration);
    ``followup_rating`` (one after it); ``completed`` (rated at the last protocol visit);
    ``visits_in_window`` (every held visit within its window)."""

    safety: tuple[AnalysisCriterion, ...] = Field(default=("treated",), min_length=1)
    full: tuple[AnalysisCriterion, ...] = Field(
        default=("treated", "baseline_rating", "followup_rating"), min_length=1
    )
    per_protocol: tuple[AnalysisCriterion, ...] = Field(
        default=("treated", "baseline_rating", "followup_rating", "completed", "visits_in_window"),
        min_length=1,
    )


class Protocol(_Strict):
    """A complete, validated study definition."""

    study: StudyInfo
    arms: tuple[Arm, ...] = Field(min_length=1)
    visits: tuple[Visit, ...] = Field(min_length=1)
    eligibility: tuple[EligibilityCriterion, ...] = ()
    release_specification: tuple[ReleaseCriterion, ...] = ()
    adverse_event_checklist: tuple[ChecklistTerm, ...] = ()
    stopping_rules: tuple[StoppingRuleSpec, ...] = ()
    #: A laboratory value graded at or above this CTCAE grade is shown as it is typed, offers
    #: an adverse-event report when saved, and waits on the dashboard until reviewed.
    lab_alert_grade: int = Field(default=3, ge=1, le=4)
    soft_checks: tuple[SoftCheck, ...] = ()
    #: Open a query automatically for each soft check a saved record fails.
    auto_queries: bool = False
    #: The study's own forms (the data dictionary, :mod:`alstrial.protocol.dictionary`).
    forms: tuple[DictionaryForm, ...] = ()
    #: The analysis sets (the report counts them and says which each analysis uses).
    analysis_sets: AnalysisSets = AnalysisSets()

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        for name, codes in (
            ("arms", [arm.code for arm in self.arms]),
            ("visits", [visit.code for visit in self.visits]),
            ("eligibility", [criterion.id for criterion in self.eligibility]),
        ):
            duplicates = sorted({code for code in codes if codes.count(code) > 1})
            if duplicates:
                raise ValueError(f"duplicate {name} code(s): {', '.join(duplicates)}")
        self._check_forms()
        days = [visit.day for visit in self.visits]
        if days != sorted(days):
            raise ValueError("visits must be listed in order of their day")
        administrations = [v.code for v in self.visits if "administration" in v.assessments]
        if len(administrations) != 1:
            raise ValueError(
                "exactly one visit must schedule 'administration'; found "
                f"{len(administrations)} ({', '.join(administrations) or 'none'})"
            )
        if self.visit(administrations[0]).day != 0:
            raise ValueError("the administration visit must be on day 0")
        return self

    def _check_forms(self) -> None:
        names = [form.name for form in self.forms]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"duplicate forms name(s): {', '.join(repeated)}")
        clash = sorted(set(names) & ASSESSMENTS)
        if clash:
            raise ValueError(f"form(s) {', '.join(clash)} take the name of a built-in assessment")
        visit_forms = {form.name for form in self.forms if form.scope == "visit"}
        known = ASSESSMENTS | LEGACY_ASSESSMENTS | visit_forms
        for visit in self.visits:
            unknown = sorted(set(visit.assessments) - known)
            if unknown:
                subject_level = sorted(set(unknown) & set(names))
                if subject_level:
                    raise ValueError(
                        f"visit {visit.code}: form(s) {', '.join(subject_level)} are entered "
                        'once per subject (scope = "subject"), not at a visit'
                    )
                raise ValueError(
                    f"visit {visit.code}: unknown assessment(s) {', '.join(unknown)}; "
                    f"expected one of {', '.join(sorted(known))}"
                )

    def problems(self) -> list[str]:
        """What a new protocol (or an amendment) may not have though a stored one may: an
        assessment scheduled with no form to enter it (see :data:`LEGACY_ASSESSMENTS`)."""
        forms = {form.name for form in self.forms}
        found = []
        for visit in self.visits:
            for name in visit.assessments:
                if name in LEGACY_ASSESSMENTS and name not in forms:
                    found.append(
                        f"visit {visit.code} schedules {name!r} and no form declares it: add "
                        f"a [[forms]] table named {name!r} (the reference protocol, "
                        "`alstrial protocol show-reference`, has one)"
                    )
        return found

    def form(self, name: str) -> DictionaryForm:
        """The dictionary form with this name; ``KeyError`` if there is none."""
        for form in self.forms:
            if form.name == name:
                return form
        raise KeyError(name)

    def arm(self, code: str) -> Arm:
        """The arm with this code; ``KeyError`` if there is none."""
        for arm in self.arms:
            if arm.code == code:
                return arm
        raise KeyError(code)

    def visit(self, code: str) -> Visit:
        """The visit with this code; ``KeyError`` if there is none."""
        for visit in self.visits:
            if visit.code == code:
                return visit
        raise KeyError(code)

    @property
    def administration_visit(self) -> Visit:
        """The day-0 visit that schedules the administration."""
        return next(v for v in self.visits if "administration" in v.assessments)
