"""``alstrial stats``: the statistics engine on a CSV or Parquet file (a REDCap or SPSS export)."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from alstrial.cli.options import JsonOption, echo_json, new_table, print_rich
from alstrial.exceptions import ValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_table", "stats_app"]

T = TypeVar("T")

stats_app = typer.Typer(
    help="Statistics on a CSV or Parquet file: describe, rm-anova, mmrm, lmm, km, cafs, power.",
    no_args_is_help=True,
)

FileArgument = Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per observation.")]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; a missing, unreadable or empty file is a clear error."""
    import pandas as pd  # deferred: every command but the statistics starts without pandas

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
    echo_json(_clean(payload))


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
    table = new_table(
        "effect", "SS", "df", "error df", "F", "p", "eps GG", "p GG", "eps HF", "p HF"
    )
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
    print_rich(table)
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
        str | None,
        typer.Option(
            help="Visits in order, comma-separated (default: numeric visits by value, text "
            "visits by label with numbers compared as numbers)."
        ),
    ] = None,
    factor: Annotated[
        list[str] | None,
        typer.Option(help="Numeric column to treat as a factor (SAS CLASS; repeatable)."),
    ] = None,
    information: Annotated[
        str,
        typer.Option(help="Kenward-Roger W from the observed (SAS) or expected (pbkrtest) one."),
    ] = "observed",
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
        categorical=factor or (),
        information=information,
    )
    by = lsmeans.split(",") if lsmeans else _default_lsmeans(result.design, visit)
    payload = _model_payload(result, formula, by)
    if as_json:
        _echo_json(payload)
        return
    _print_model(result, ml, cov)


def _model_payload(result: Any, formula: str, lsmeans_by: list[str]) -> dict[str, Any]:
    """The JSON of a fitted MMRM or LMM (keys pinned by tests/test_cli_stats.py)."""
    import pandas as pd

    means = result.lsmeans(lsmeans_by) if lsmeans_by else pd.DataFrame()
    return {
        "formula": formula,
        "covariance_structure": result.structure.name,
        "method": "REML" if result.reml else "ML",
        "df_method": result.df_method,
        "information": result.information,
        "notes": list(result.notes),
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


def _print_model(result: Any, ml: bool, cov: str) -> None:
    """Coefficients, Type III tests, the likelihood and the fit's notes, as text."""
    table = new_table("term", "estimate", "SE", "df", "t", "p")
    for c in result.coefficients:
        table.add_row(
            c.term, f"{c.estimate:.5f}", f"{c.se:.5f}", f"{c.df:.2f}", f"{c.t:.3f}", f"{c.p:.4g}"
        )
    print_rich(table)
    tests = new_table("effect", "num df", "den df", "F", "p")
    for row in result.type3:
        tests.add_row(
            row.effect, str(row.df_num), f"{row.df_den:.2f}", f"{row.F:.4f}", f"{row.p:.4g}"
        )
    print_rich(tests)
    typer.echo(
        f"{result.n_subjects} subjects, {result.n_obs} observations; -2 log-likelihood "
        f"{result.neg2_loglik:.6f} ({'ML' if ml else 'REML'}, {cov}, {result.df_method} df)"
    )
    for note in result.notes:
        typer.echo(f"note: {note}")


def _default_lsmeans(design: Any, visit: str) -> list[str]:
    """The categorical factors of the highest-order term that contains the visit."""
    candidates = [t for t in design.terms if visit in t.factors]
    if not candidates:
        return []
    best = max(candidates, key=lambda t: len(t.factors))
    return [f for f in best.factors if f in design.levels]


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
    table = new_table(*map(str, summary.columns))
    for row in summary.itertuples(index=False):
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    print_rich(table)


@stats_app.command("lmm")
def lmm_command(
    file: FileArgument,
    formula: Annotated[str, typer.Option(help='Fixed effects, e.g. "Y ~ ARM*MONTH".')],
    subject: Annotated[str, typer.Option(help="Subject id column.")],
    time: Annotated[
        str | None,
        typer.Option(help="Numeric time of the random slope (actual days are fine)."),
    ] = None,
    random: Annotated[
        str, typer.Option(help="Random part: intercept, slope (and intercept) or quadratic.")
    ] = "slope",
    independent: Annotated[
        bool,
        typer.Option("--independent", help="Uncorrelated random terms (lme4's ||)."),
    ] = False,
    ml: Annotated[bool, typer.Option("--ml", help="Maximum likelihood instead of REML.")] = False,
    df: Annotated[str, typer.Option(help="satterthwaite or kenward-roger.")] = "satterthwaite",
    information: Annotated[
        str,
        typer.Option(help="Kenward-Roger W from the observed (SAS) or expected (pbkrtest) one."),
    ] = "observed",
    reference: Annotated[
        list[str] | None, typer.Option(help="Reference level, COLUMN=LEVEL (repeatable).")
    ] = None,
    factor: Annotated[
        list[str] | None,
        typer.Option(help="Numeric column to treat as a factor (SAS CLASS; repeatable)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Linear mixed model with random effects on any time scale (lmerTest's (t | subject))."""
    from alstrial.stats.lmm import lmm

    data = read_table(file)
    result = lmm(
        data,
        formula,
        subject=subject,
        time=time,
        random=random,
        correlated=not independent,
        reml=not ml,
        df=df,
        references=_references(reference),
        categorical=factor or (),
        information=information,
    )
    payload = {
        "formula": formula,
        "random": random,
        "correlated": result.correlated,
        "method": "REML" if result.reml else "ML",
        "df_method": result.df_method,
        "information": result.information,
        "n_subjects": result.n_subjects,
        "n_obs": result.n_obs,
        "n_times": result.n_times,
        "loglik": result.loglik,
        "neg2_loglik": result.neg2_loglik,
        "aic": result.aic,
        "coefficients": [asdict(c) for c in result.coefficients],
        "random_effects": dict(zip(result.phi_names, result.phi.tolist(), strict=True)),
        "G": result.G.tolist(),
        "type3": [asdict(row) for row in result.type3],
    }
    if as_json:
        _echo_json(payload)
        return
    terms = " + ".join(result.random_terms)
    _print_model(result, ml, f"random {terms}{'' if result.correlated else ', independent'}")


@stats_app.command("km")
def km_command(
    file: FileArgument,
    time: Annotated[str, typer.Option(help="Follow-up time column.")],
    event: Annotated[str, typer.Option(help="Event column: 1 event, 0 censored.")],
    group: Annotated[str | None, typer.Option(help="Group column (log-rank test).")] = None,
    conf_type: Annotated[str, typer.Option(help="log (R), log-log (SAS) or plain.")] = "log",
    as_json: JsonOption = False,
) -> None:
    """Kaplan-Meier curves with Greenwood CIs, medians, and the log-rank test."""
    from alstrial.stats.design import numeric_column
    from alstrial.stats.survival import kaplan_meier, log_rank

    data = read_table(file)
    for column in (time, event, *([group] if group else [])):
        if column not in data.columns:
            raise ValidationError(f"column {column!r} is not in the data", field=column)
    data = data.assign(**{time: numeric_column(data, time), event: numeric_column(data, event)})
    groups = sorted({str(g) for g in data[group]}) if group else ["all"]
    curves: dict[str, dict[str, Any]] = {}
    for name in groups:
        own = data[data[group].astype(str) == name] if group else data
        fit = kaplan_meier(
            own[time].to_numpy(dtype=float), own[event].to_numpy(dtype=float), conf_type=conf_type
        )
        curves[name] = {
            "n": fit.n,
            "events": fit.events,
            "median": fit.median,
            "median_ci": list(fit.median_ci),
            "table": fit.table().to_dict("records"),
        }
    payload: dict[str, Any] = {"conf_type": conf_type, "curves": curves}
    if group:
        test = log_rank(
            data[time].to_numpy(dtype=float),
            data[event].to_numpy(dtype=float),
            data[group].astype(str).tolist(),
        )
        payload["log_rank"] = {
            "groups": list(test.groups),
            "observed": test.observed.tolist(),
            "expected": test.expected.tolist(),
            "chi2": test.chi2,
            "df": test.df,
            "p": test.p,
        }
    if as_json:
        _echo_json(payload)
        return
    for name, curve in curves.items():
        typer.echo(
            f"{name}: n {curve['n']}, events {curve['events']}, median {curve['median']} "
            f"(95 % CI {curve['median_ci'][0]} to {curve['median_ci'][1]})"
        )
    if group:
        rank: dict[str, Any] = payload["log_rank"]
        typer.echo(f"log-rank chi2({rank['df']}) = {rank['chi2']:.4f}, p = {rank['p']:.4g}")


@stats_app.command("cafs")
def cafs_command(
    file: FileArgument,
    subject: Annotated[str, typer.Option(help="Subject id column.")],
    arm: Annotated[str, typer.Option(help="Arm column (two arms).")],
    death_time: Annotated[str, typer.Option(help="Time of death (empty when alive).")],
    followup_time: Annotated[str, typer.Option(help="End of follow-up.")],
    change: Annotated[str, typer.Option(help="ALSFRS-R change from baseline.")],
    as_json: JsonOption = False,
) -> None:
    """Combined Assessment of Function and Survival (Berry 2013) and its rank test."""
    from alstrial.stats.cafs import cafs

    result = cafs(
        read_table(file),
        subject=subject,
        arm=arm,
        death_time=death_time,
        followup_time=followup_time,
        change=change,
    )
    payload = {
        "mean_score": result.mean_score,
        "statistic": result.statistic,
        "p": result.p,
        "scores": result.scores.to_dict("records"),
    }
    if as_json:
        _echo_json(payload)
        return
    for name, mean in result.mean_score.items():
        typer.echo(f"{name}: mean CAFS score {mean:.3f}")
    typer.echo(f"Mann-Whitney U = {result.statistic:g}, p = {result.p:.4g}")


def _all_cores() -> int:
    from alstrial.stats.parallel import default_workers

    return default_workers()


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValidationError(
            f"--{name} must be comma-separated numbers, got {text!r}", field=name, value=text
        ) from None


@stats_app.command("power")
def power_command(
    method: Annotated[
        str,
        typer.Argument(
            help="diggle, slope, llc, simulate, or from-study (this trial's fitted slope "
            "model and dropout: n per arm for 25/35/50 % slowing at 6 and 12 months)."
        ),
    ],
    delta: Annotated[
        float | None, typer.Option(help="Difference in slope (diggle, slope).")
    ] = None,
    times: Annotated[str | None, typer.Option(help="Visit times, comma-separated.")] = None,
    sigma2: Annotated[float | None, typer.Option(help="Residual variance (diggle).")] = None,
    rho: Annotated[float | None, typer.Option(help="Exchangeable correlation (diggle).")] = None,
    var_slope: Annotated[float | None, typer.Option(help="Random slope variance (slope).")] = None,
    var_residual: Annotated[float | None, typer.Option(help="Residual variance (slope).")] = None,
    effect_size: Annotated[float | None, typer.Option(help="Effect in SD units (llc).")] = None,
    phi1: Annotated[float, typer.Option(help="Variance inflation, arm 1 (llc).")] = 1.0,
    phi2: Annotated[float, typer.Option(help="Variance inflation, arm 2 (llc).")] = 1.0,
    ratio: Annotated[float, typer.Option(help="Allocation ratio n2/n1 (llc).")] = 1.0,
    means: Annotated[
        str | None, typer.Option(help="simulate: CSV of means, arms x visits (index = arm).")
    ] = None,
    covariance: Annotated[
        str | None, typer.Option(help="simulate: CSV of the visit covariance (no header).")
    ] = None,
    n_per_arm: Annotated[int | None, typer.Option(help="simulate: subjects per arm.")] = None,
    retention: Annotated[
        str | None, typer.Option(help="simulate: retention per visit, comma-separated.")
    ] = None,
    n_sim: Annotated[int, typer.Option(help="simulate: trials simulated.")] = 200,
    seed: Annotated[int, typer.Option(help="simulate: random seed.")] = 1,
    workers: Annotated[
        int | None,
        typer.Option(help="simulate: local processes (default: every core of this machine)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="simulate: a Dask scheduler to run on instead, tcp://host:8786."),
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Target power.")] = 0.8,
    one_sided: Annotated[bool, typer.Option("--one-sided", help="One-sided test.")] = False,
    database: Annotated[
        str | None,
        typer.Option(help="from-study: SQLAlchemy URL of the trial's store."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sample size or power for the next trial (Diggle, random slope, Lu-Luo-Chen,
    simulation, or from this trial's data)."""
    from alstrial.stats import power as engine

    alternative = "one-sided" if one_sided else "two-sided"

    def need(value: T | None, name: str) -> T:
        if value is None:
            raise ValidationError(f"power {method} needs --{name.replace('_', '-')}", field=name)
        return value

    payload: dict[str, Any] = {"method": method}
    if method == "diggle":
        n = engine.diggle_slope_n(
            need(delta, "delta"),
            _floats(need(times, "times"), "times"),
            need(sigma2, "sigma2"),
            need(rho, "rho"),
            alpha=alpha,
            power=power,
            alternative=alternative,
        )
        payload |= {"n_per_group": n, "n_per_group_rounded": math.ceil(n)}
    elif method == "slope":
        n = engine.random_slope_n(
            need(delta, "delta"),
            _floats(need(times, "times"), "times"),
            var_slope=need(var_slope, "var_slope"),
            var_residual=need(var_residual, "var_residual"),
            alpha=alpha,
            power=power,
            alternative=alternative,
        )
        payload |= {"n_per_group": n, "n_per_group_rounded": math.ceil(n)}
    elif method == "llc":
        size = need(effect_size, "effect_size")
        payload |= {
            f"n_total_{test}": engine.llc_n(
                size, phi1=phi1, phi2=phi2, ratio=ratio, alpha=alpha, power=power, test=test
            )
            for test in ("z", "t")
        }
    elif method == "from-study":
        from alstrial.cli.context import database_url, open_session
        from alstrial.reporting.next_trial import next_trial_power
        from alstrial.services import build_analysis_frames

        with open_session(database_url(database)) as session:
            frames = build_analysis_frames(session)
        study = next_trial_power(frames, alpha=alpha, power=power, n_sim=n_sim, seed=seed)
        payload |= {
            "slope_points_per_month": study.slope,
            "var_slope": study.var_slope,
            "var_residual": study.var_residual,
            "patients": study.n_patients,
            "ratings": study.n_ratings,
            "synthetic": frames.synthetic,
            "rows": study.table.to_dict("records"),
            "assumptions": list(study.assumptions),
        }
    elif method == "simulate":
        table = read_table(Path(need(means, "means")))
        import pandas as pd

        sigma = pd.read_csv(Path(need(covariance, "covariance")), header=None)
        result = engine.simulate_power(
            table.set_index(table.columns[0]),
            sigma.to_numpy(dtype=float),
            n_per_arm=need(n_per_arm, "n_per_arm"),
            retention=_floats(retention, "retention") if retention else None,
            n_sim=n_sim,
            alpha=alpha,
            seed=seed,
            workers=workers if workers is not None else _all_cores(),
            scheduler=scheduler,
        )
        payload |= asdict(result)
    else:
        raise ValidationError(
            f"unknown power method {method!r}",
            field="method",
            value=method,
            allowed="diggle, slope, llc, simulate, from-study",
        )
    if as_json:
        _echo_json(payload)
        return
    for key, value in payload.items():
        if key == "rows":
            for row in value:
                typer.echo(
                    f"  {row['slowing']:.0%} slowing at {row['horizon_months']:g} months: "
                    f"n = {row['n_per_arm']} per arm, {row['n_per_arm_with_dropout']} with "
                    f"dropout (retention {row['retention']:.2f})"
                    + (
                        f"; simulated power {row['simulated_power']:.3f} (MC SE {row['mc_se']:.3f})"
                        if row["simulated_power"] == row["simulated_power"]
                        else ""
                    )
                )
        elif key == "assumptions":
            for line in value:
                typer.echo(f"  assumption: {line}")
        else:
            typer.echo(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    if payload.get("synthetic"):
        typer.echo("SYNTHETIC DATA: the estimates come from values generated by alstrial.")
