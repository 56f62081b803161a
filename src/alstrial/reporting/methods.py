"""The statistical methods paragraph, generated from what the report ran (issue 18, item 7):
the models actually fitted (the covariance structure each MMRM converged with, the degrees of
freedom method, which analyses could not run and why) and the software with its versions, as
a journal's methods section asks for."""

from __future__ import annotations

import platform
from typing import Any

__all__ = ["methods_paragraphs"]


_STRUCTURES = {"us": "unstructured", "ar1": "AR(1)", "cs": "compound symmetry"}


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import alstrial

    parts = [f"alstrial {alstrial.__version__}", f"Python {platform.python_version()}"]
    for package in ("numpy", "scipy", "pandas"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:  # pragma: no cover - a broken install
            continue
    return ", ".join(parts)


def methods_paragraphs(report: Any) -> list[str]:
    """One paragraph per analysis the report ran, in the report's order, then the software.

    ``report`` is a :class:`~alstrial.reporting.report.Report`; an analysis that could not run
    is said so with its reason rather than described as done."""
    paragraphs = []
    anovas = []
    for label, result in report.anovas.items():
        if getattr(result, "unavailable", False):
            anovas.append(f"{label}: not run ({result.reason})")
        else:
            anovas.append(f"{label}: {result.n_subjects} patients with every visit")
    paragraphs.append(
        "Repeated-measures ANOVA as the paper's (SPSS GLM Repeated Measures): within-subject "
        "factor time, between-subject factor arm, Type III sums of squares, listwise deletion, "
        "Mauchly's test with Greenhouse-Geisser and Huynh-Feldt corrections ("
        + "; ".join(anovas)
        + ")."
    )
    mmrms = []
    for label, summary in report.mmrms.items():
        if summary.fit is None:
            mmrms.append(f"{label}: not estimable ({summary.note})")
        else:
            mmrms.append(
                f"{label}: {summary.formula}, "
                f"{_STRUCTURES.get(summary.structure, summary.structure)} covariance, "
                f"{summary.fit.n_subjects} patients, {summary.fit.n_obs} observations"
            )
    paragraphs.append(
        "Mixed models for repeated measures fitted by REML with Satterthwaite degrees of "
        "freedom; the covariance structure is the first of unstructured, AR(1) and compound "
        "symmetry that converged (" + "; ".join(mmrms) + "). Least-squares mean differences "
        "between arms at each visit with 95 % confidence intervals; Type III F tests."
    )
    piecewise = [
        f"{label}: not run ({table.reason})"
        if getattr(table, "unavailable", False)
        else f"{label}: fitted"
        for label, table in report.piecewise.items()
    ]
    paragraphs.append(
        "Change of slope at administration: a linear mixed model per outcome with a random "
        "intercept and slope per patient and a change of slope at administration, REML, "
        "Satterthwaite degrees of freedom (" + "; ".join(piecewise) + "). Per patient, slopes "
        "before and after administration by ordinary least squares with two joined lines."
    )
    survival = report.survival
    test = (
        f"log-rank test between arms (chi-squared {survival.chi2:.3f})"
        if survival.chi2 is not None
        else "no log-rank test (no event or a single arm)"
    )
    paragraphs.append(
        "Time from administration to death or tracheostomy by Kaplan-Meier, censored at the "
        f"end of follow-up; {test}."
    )
    next_trial = report.next_trial
    if next_trial is not None and not getattr(next_trial, "unavailable", False):
        paragraphs.append(
            "Sample size for a randomised two-arm trial from this trial's ALSFRS-R: a random "
            "intercept and slope model (REML) of "
            f"{next_trial.n_ratings} ratings of {next_trial.n_patients} patients gave the mean "
            "decline and the variance components, and the random-slope formula (Diggle et al. "
            "2002; longpower's lmmpower) the patients per arm, inflated for the observed "
            "dropout."
        )
    paragraphs.append(
        f"Computed with {_versions()}; the statistics are alstrial's own implementations, "
        "validated against SAS, SPSS and R reference results in its test suite."
    )
    return paragraphs
