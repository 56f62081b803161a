"""``alstrial stats``: the statistics engine on a CSV or Parquet file (a REDCap or SPSS export)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from alstrial.exceptions import ValidationError

__all__ = ["read_table", "stats_app"]

stats_app = typer.Typer(
    help="Statistics on a CSV or Parquet file: rm-anova, mmrm, describe.", no_args_is_help=True
)
console = Console()

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
FileArgument = Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per observation.")]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; a missing, unreadable or empty file is a clear error."""
    if not path.is_file():
        raise ValidationError(f"{path} does not exist", field="file", value=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path)
    except ImportError as error:
        raise ValidationError(
            f"{path}: reading Parquet needs pyarrow: pip install 'alstrial[parquet]' ({error})",
            field="file",
            value=str(path),
        ) from None
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise ValidationError(
            f"{path} cannot be read: {error}", field="file", value=str(path)
        ) from None
    if frame.empty:
        raise ValidationError(f"{path} has no rows", field="file", value=str(path))
    return frame


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _echo_json(payload: Any) -> None:
    typer.echo(json.dumps(_clean(payload), indent=2, default=str))


def _references(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        name, sep, level = pair.partition("=")
        if not sep or not name or not level:
            raise ValidationError(
                f"--reference {pair!r} must be COLUMN=LEVEL", field="reference", value=pair
            )
        out[name] = level
    return out


@stats_app.command("rm-anova")
def rm_anova_command(
    file: FileArgument,
    subject: Annotated[str, typer.Option(help="Subject id column.")],
    within: Annotated[str, typer.Option(help="Within-subject factor column (e.g. the visit).")],
    dv: Annotated[str, typer.Option(help="Response column.")],
    between: Annotated[
        list[str] | None, typer.Option(help="Between-subject factor column (repeatable).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Repeated-measures ANOVA as SPSS GLM computes it (Type III, Mauchly, GG, HF)."""
    from alstrial.stats import rm_anova

    data = read_table(file)
    result = rm_anova(data, dv=dv, subject=subject, within=within, between=between or [])
    effects = []
    for effect in result.effects:
        row = {
            "effect": effect.effect,
            "ss": effect.ss,
            "df_num": effect.df_num,
            "df_den": effect.df_den,
            "F": effect.F,
            "p": effect.p,
        }
        if effect.kind == "within":
            row |= {
                "eps_gg": effect.eps_gg,
                "p_gg": effect.p_gg,
                "eps_hf": effect.eps_hf,
                "p_hf": effect.p_hf,
                "eps_hf_lecoutre": effect.eps_hf_lecoutre,
                "p_hf_lecoutre": effect.p_hf_lecoutre,
                "p_lower_bound": effect.p_lower_bound,
            }
        effects.append(row)
    payload = {
        "dv": dv,
        "within": within,
        "between": list(result.between),
        "levels": list(result.levels),
        "n_subjects": result.n_subjects,
        "excluded_subjects": [asdict(e) for e in result.excluded_subjects],
        "mauchly": asdict(result.mauchly),
        "effects": effects,
    }
    if as_json:
        _echo_json(payload)
        return
    table = Table("effect", "SS", "df", "error df", "F", "p", "eps GG", "p GG", "eps HF", "p HF")
    for row in effects:
        table.add_row(
            str(row["effect"]),
            f"{row['ss']:.4f}",
            f"{row['df_num']:g}",
            f"{row['df_den']:g}",
            f"{row['F']:.4f}",
            f"{row['p']:.4g}",
            *(
                f"{row[k]:.4g}" if row.get(k) is not None else ""
                for k in ("eps_gg", "p_gg", "eps_hf", "p_hf")
            ),
        )
    console.print(table)
    m = result.mauchly
    typer.echo(
        f"{result.n_subjects} subjects; Mauchly W = {m.W:.4f}, chi2({m.df}) = {m.chi2:.4f}, "
        f"p = {m.p if m.p is not None else 'n/a'}"
    )
    for excluded in result.excluded_subjects:
        typer.echo(f"excluded {excluded.subject}: {excluded.reason}")


@stats_app.command("mmrm")
def mmrm_command(
    file: FileArgument,
    formula: Annotated[str, typer.Option(help='Fixed effects, e.g. "Y ~ ARM*VISIT + BASE".')],
    subject: Annotated[str, typer.Option(help="Subject id column.")],
    visit: Annotated[str, typer.Option(help="Visit column (the covariance is over visits).")],
    cov: Annotated[str, typer.Option(help="us, cs, csh, ar1, ar1h or toep.")] = "us",
    df: Annotated[str, typer.Option(help="satterthwaite or kenward-roger.")] = "satterthwaite",
    ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
    reference: Annotated[
        list[str] | None, typer.Option(help="Reference level, COLUMN=LEVEL (repeatable).")
    ] = None,
    visit_order: Annotated[
        str | None, typer.Option(help="Visits in order, comma-separated (default: sorted).")
    ] = None,
    lsmeans: Annotated[
        str | None,
        typer.Option(help="Factors for LS means, comma-separated (default: arm-like x visit)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Mixed model for repeated measures (SAS PROC MIXED's REPEATED with TYPE=...)."""
    from alstrial.stats.mmrm import mmrm

    data = read_table(file)
    result = mmrm(
        data,
        formula,
        subject=subject,
        visit=visit,
        covariance=cov,
        reml=not ml,
        df=df,
        references=_references(reference),
        visit_order=visit_order.split(",") if visit_order else None,
    )
    by = lsmeans.split(",") if lsmeans else _default_lsmeans(result.design.terms, visit)
    means = result.lsmeans(by) if by else pd.DataFrame()
    payload = {
        "formula": formula,
        "covariance_structure": cov,
        "method": "ML" if ml else "REML",
        "df_method": result.df_method,
        "n_subjects": result.n_subjects,
        "n_obs": result.n_obs,
        "loglik": result.loglik,
        "neg2_loglik": result.neg2_loglik,
        "aic": result.aic,
        "coefficients": [asdict(c) for c in result.coefficients],
        "visits": list(result.visits),
        "covariance": result.sigma.tolist(),
        "covariance_parameters": dict(
            zip(result.structure.phi_names, result.phi.tolist(), strict=True)
        ),
        "type3": [asdict(row) for row in result.type3],
        "lsmeans": means.to_dict("records"),
    }
    if as_json:
        _echo_json(payload)
        return
    table = Table("term", "estimate", "SE", "df", "t", "p")
    for c in result.coefficients:
        table.add_row(
            c.term, f"{c.estimate:.5f}", f"{c.se:.5f}", f"{c.df:.2f}", f"{c.t:.3f}", f"{c.p:.4g}"
        )
    console.print(table)
    tests = Table("effect", "num df", "den df", "F", "p")
    for row in result.type3:
        tests.add_row(
            row.effect, str(row.df_num), f"{row.df_den:.2f}", f"{row.F:.4f}", f"{row.p:.4g}"
        )
    console.print(tests)
    typer.echo(
        f"{result.n_subjects} subjects, {result.n_obs} observations; -2 log-likelihood "
        f"{result.neg2_loglik:.6f} ({'ML' if ml else 'REML'}, {cov}, {result.df_method} df)"
    )


def _default_lsmeans(terms: Any, visit: str) -> list[str]:
    """The factors of the highest-order term that contains the visit, else the visit."""
    candidates = [t for t in terms if visit in t.factors]
    if not candidates:
        return []
    best = max(candidates, key=lambda t: len(t.factors))
    return list(best.factors)


@stats_app.command("describe")
def describe_command(
    file: FileArgument,
    value: Annotated[str, typer.Option(help="Column to summarise.")],
    by: Annotated[list[str], typer.Option(help="Grouping column (repeatable).")],
    as_json: JsonOption = False,
) -> None:
    """n, mean, SD, SE, 95 % CI, median, IQR and missing count by group."""
    from alstrial.stats import describe_by

    summary = describe_by(read_table(file), value=value, by=by)
    if as_json:
        _echo_json(summary.to_dict("records"))
        return
    table = Table(*map(str, summary.columns))
    for row in summary.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)
