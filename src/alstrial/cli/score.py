"""``alstrial score``: the clinical instruments from the command line, no database needed."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alstrial.cli.options import JsonOption, echo_json, new_table, print_rich
from alstrial.exceptions import ValidationError

if TYPE_CHECKING:
    from alstrial.scoring import (
        AlsfrsScale,
        AlsfrsScore,
        RegionFindings,
    )

__all__ = ["score_app"]

score_app = typer.Typer(
    help="Score ALSFRS-R/ALSFRS, FVC % predicted, diagnostic criteria, delta-FS, ENCALS.",
    no_args_is_help=True,
)

MISSING_TOKENS = {"-", "na", "NA", "."}


def _parse_items(tokens: list[str], scale: AlsfrsScale) -> dict[str, int | None]:
    """Items in questionnaire order; item 5 as ``3`` (5a) or ``3b`` (5b); ``-`` missing."""
    from alstrial.scoring import AlsfrsScale

    expected = 12 if scale is AlsfrsScale.ALSFRS_R else 10
    if len(tokens) != expected:
        raise ValidationError(
            f"the {scale} has {expected} items, {len(tokens)} given",
            form="alsfrs",
            field="items",
            value=" ".join(tokens),
            allowed=f"{expected} scores 0-4 in questionnaire order, item 5 as 3 or 3b",
        )
    items: dict[str, int | None] = {}
    for number, token in enumerate(tokens, start=1):
        key = f"item_{number}"
        if number == 5:
            key = "item_5b" if token.lower().endswith("b") else "item_5a"
            token = token.rstrip("bBaA")
        if token in MISSING_TOKENS:
            items[key] = None
            continue
        try:
            items[key] = int(token)
        except ValueError:
            raise ValidationError(
                f"{scale} item {number} must be an integer 0-4, got {token!r}",
                form="alsfrs",
                field=key,
                value=token,
                allowed="an integer 0-4 (item 5: 3 or 3b; '-' when missing)",
            ) from None
    return items


def _score_payload(
    score: AlsfrsScore, *, gastrostomy: bool, niv: bool, dead: bool
) -> dict[str, Any]:
    from alstrial.scoring import AlsfrsScale, kings_stage, mitos_stage

    payload: dict[str, Any] = {
        "scale": str(score.scale),
        "total": score.total,
        "bulbar": score.bulbar,
        "fine_motor": score.fine_motor,
        "gross_motor": score.gross_motor,
        "respiratory": score.respiratory,
        "item_5": "5b" if score.gastrostomy else "5a",
        "missing": list(score.missing),
        "missing_reason": score.missing_reason,
    }
    if score.scale is AlsfrsScale.ALSFRS_R and score.complete:
        kings = kings_stage(score, gastrostomy=gastrostomy, niv=niv, dead=dead)
        mitos = mitos_stage(score, dead=dead)
        payload |= {
            "kings": kings.label,
            "kings_regions": list(kings.regions),
            "mitos": mitos.stage,
            "mitos_domains_lost": list(mitos.domains_lost),
        }
    else:
        payload |= {"kings": None, "mitos": None}
    return payload


def _print_score(payload: dict[str, Any]) -> None:
    table = new_table("", payload["scale"], show_header=True)
    total = payload["total"]
    table.add_row("total", str(total) if total is not None else "missing")
    for name in ("bulbar", "fine_motor", "gross_motor", "respiratory"):
        value = payload[name]
        table.add_row(name.replace("_", " "), str(value) if value is not None else "missing")
    if payload["kings"] is not None:
        table.add_row("King's stage", payload["kings"])
        table.add_row("MiToS stage", str(payload["mitos"]))
    print_rich(table)
    if payload["missing_reason"]:
        typer.echo(payload["missing_reason"])


GastrostomyOption = Annotated[
    bool, typer.Option("--gastrostomy", help="A gastrostomy is recorded (King's 4A).")
]
NivOption = Annotated[bool, typer.Option("--niv", help="Non-invasive ventilation is recorded.")]
DeadOption = Annotated[bool, typer.Option("--dead", help="The patient has died (stage 5).")]


@score_app.command("alsfrs-r")
def score_alsfrs_r_command(
    items: Annotated[
        list[str], typer.Argument(help="12 item scores; item 5 as 3 (5a) or 3b (5b); '-' missing.")
    ],
    gastrostomy: GastrostomyOption = False,
    niv: NivOption = False,
    dead: DeadOption = False,
    as_json: JsonOption = False,
) -> None:
    """ALSFRS-R total, domain subscores, King's stage and MiToS stage."""
    from alstrial.scoring import AlsfrsScale, score_alsfrs

    score = score_alsfrs(_parse_items(items, AlsfrsScale.ALSFRS_R), AlsfrsScale.ALSFRS_R)
    payload = _score_payload(score, gastrostomy=gastrostomy, niv=niv, dead=dead)
    echo_json(payload) if as_json else _print_score(payload)


@score_app.command("alsfrs")
def score_alsfrs_original_command(
    items: Annotated[
        list[str], typer.Argument(help="10 item scores of the original ALSFRS; item 5 as 3 or 3b.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Original ALSFRS (1996, 10 items, 0-40) total and domain subscores; no stages."""
    from alstrial.scoring import AlsfrsScale, score_alsfrs

    score = score_alsfrs(_parse_items(items, AlsfrsScale.ALSFRS), AlsfrsScale.ALSFRS)
    payload = _score_payload(score, gastrostomy=False, niv=False, dead=False)
    echo_json(payload) if as_json else _print_score(payload)


@score_app.command("fvc")
def score_fvc_command(
    sex: Annotated[str, typer.Option(help="male or female.")],
    age: Annotated[float, typer.Option(help="Age in years at the test (3-95).")],
    height: Annotated[float, typer.Option(help="Height in cm.")],
    fvc: Annotated[float, typer.Option(help="Measured FVC in litres.")],
    equation: Annotated[str, typer.Option(help="gli2012 or gli-global.")] = "gli-global",
    ethnicity: Annotated[
        str | None,
        typer.Option(
            help="GLI-2012 group: caucasian, african-american, north-east-asian, "
            "south-east-asian, other."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """FVC % predicted, z-score and lower limit of normal from litres."""
    from alstrial.scoring import fvc_percent_predicted

    result = fvc_percent_predicted(
        fvc, sex=sex, age_years=age, height_cm=height, equation=equation, ethnicity=ethnicity
    )
    payload = {
        "equation": str(result.equation),
        "ethnicity": str(result.ethnicity) if result.ethnicity else None,
        "fvc_l": result.fvc_l,
        "predicted_l": round(result.predicted_l, 6),
        "percent_predicted": round(result.percent_predicted, 4),
        "z": round(result.z, 4),
        "lln_l": round(result.lln_l, 6),
        "below_lln": result.fvc_l < result.lln_l,
    }
    if as_json:
        echo_json(payload)
        return
    typer.echo(
        f"{payload['equation']}: predicted {payload['predicted_l']:.3f} L, measured "
        f"{fvc:g} L = {payload['percent_predicted']:.1f} % predicted, z {payload['z']:.2f}, "
        f"LLN {payload['lln_l']:.3f} L{' (below LLN)' if payload['below_lln'] else ''}"
    )


_SIGN_NAMES = {"umn": "umn", "lmn": "lmn", "emg": "emg_lmn"}


def _findings(region: str, text: str | None) -> RegionFindings:
    from alstrial.scoring import RegionFindings

    if not text:
        return RegionFindings()
    signs = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(signs - set(_SIGN_NAMES))
    if unknown:
        raise ValidationError(
            f"unknown sign {unknown[0]!r} in region {region}",
            form="diagnosis",
            field=region,
            value=text,
            allowed="a comma-separated list of umn, lmn, emg",
        )
    return RegionFindings(**{_SIGN_NAMES[sign]: True for sign in signs})


def _signs_option(region: str) -> Any:
    return typer.Option(
        f"--{region}", help=f"Signs in the {region} region: umn, lmn, emg (comma-separated)."
    )


@score_app.command("criteria")
def score_criteria_command(
    bulbar: Annotated[str | None, _signs_option("bulbar")] = None,
    cervical: Annotated[str | None, _signs_option("cervical")] = None,
    thoracic: Annotated[str | None, _signs_option("thoracic")] = None,
    lumbosacral: Annotated[str | None, _signs_option("lumbosacral")] = None,
    emg_limbs: Annotated[
        int | None, typer.Option(help="Limbs (0-4) with EMG-defined LMN signs.")
    ] = None,
    progressive: Annotated[
        bool | None,
        typer.Option("--progressive/--not-progressive", help="Progressive motor impairment."),
    ] = None,
    other_disease_excluded: Annotated[
        bool | None,
        typer.Option(
            "--other-disease-excluded/--other-disease-not-excluded",
            help="Investigations have excluded other disease.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Revised El Escorial, Awaji and Gold Coast categories from regional findings."""
    from alstrial.scoring import REGIONS, CriteriaResult, GoldCoastResult, evaluate_criteria

    given = dict(zip(REGIONS, (bulbar, cervical, thoracic, lumbosacral), strict=True))
    findings = {region: _findings(region, text) for region, text in given.items()}
    results = evaluate_criteria(
        findings,
        emg_lmn_limbs=emg_limbs,
        progressive=progressive,
        other_disease_excluded=other_disease_excluded,
    )
    payload: dict[str, Any] = {}
    for name, result in results.items():
        if isinstance(result, CriteriaResult):
            payload[name] = {"category": result.category, "reason": result.reason}
        elif isinstance(result, GoldCoastResult):
            payload[name] = {"met": result.met, "reason": result.reason}
    if as_json:
        echo_json(payload)
        return
    for name, entry in payload.items():
        verdict = entry.get("category", entry.get("met"))
        typer.echo(f"{name}: {verdict if verdict is not None else 'none'} ({entry['reason']})")


@score_app.command("dfs")
def score_dfs_command(
    total: Annotated[int, typer.Option(help="ALSFRS-R (or ALSFRS) total at the visit.")],
    onset: Annotated[str, typer.Option(help="Date of first symptom, YYYY-MM-DD.")],
    visit: Annotated[str, typer.Option(help="Date of the rating, YYYY-MM-DD.")],
    scale: Annotated[str, typer.Option(help="ALSFRS-R (max 48) or ALSFRS (max 40).")] = "ALSFRS-R",
    as_json: JsonOption = False,
) -> None:
    """Delta-FS: points lost per month since onset (Kimura 2006)."""
    from alstrial.scoring import delta_fs, months_between, scale_maximum

    onset_day, visit_day = _date("onset", onset), _date("visit", visit)
    maximum = scale_maximum(_scale(scale))
    rate = delta_fs(total, onset_day, visit_day, maximum=maximum)
    months = months_between(onset_day, visit_day)
    payload = {"delta_fs": round(rate, 5), "months": round(months, 5), "maximum": maximum}
    if as_json:
        echo_json(payload)
        return
    typer.echo(
        f"delta-FS {payload['delta_fs']:.5f} points/month "
        f"({maximum - total} points over {months:.5f} months)"
    )


@score_app.command("encals")
def score_encals_command(
    age_onset: Annotated[float, typer.Option(help="Age at symptom onset (years).")],
    dfs: Annotated[float, typer.Option(help="Delta-FS at diagnosis (points/month).")],
    delay: Annotated[float, typer.Option(help="Months from onset to diagnosis.")],
    fvc: Annotated[float, typer.Option(help="FVC % predicted at diagnosis.")],
    bulbar: Annotated[bool, typer.Option("--bulbar", help="Bulbar onset.")] = False,
    definite: Annotated[bool, typer.Option("--definite", help="Definite El Escorial.")] = False,
    ftd: Annotated[bool, typer.Option("--ftd", help="Frontotemporal dementia.")] = False,
    c9orf72: Annotated[bool, typer.Option("--c9orf72", help="C9orf72 repeat expansion.")] = False,
    as_json: JsonOption = False,
) -> None:
    """ENCALS predicted survival from diagnosis (a natural-history yardstick)."""
    from alstrial.scoring import EncalsInputs, encals_predict

    prediction = encals_predict(
        EncalsInputs(age_onset, dfs, delay, fvc, bulbar, definite, ftd, c9orf72)
    )
    payload = {
        "linear_predictor": round(prediction.linear_predictor, 4),
        "median_months": round(prediction.median_months, 1),
        "survival": {
            f"{t:g}": round(s, 4)
            for t, s in zip(prediction.months, prediction.survival, strict=True)
        },
        "source": prediction.source,
    }
    if as_json:
        echo_json(payload)
        return
    typer.echo(
        f"ENCALS linear predictor {payload['linear_predictor']}, median survival "
        f"{payload['median_months']} months from diagnosis"
    )
    typer.echo(prediction.source)


def _date(name: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--{name} {text!r} is not a date", field=name, value=text, allowed="YYYY-MM-DD"
        ) from None


def _scale(text: str) -> AlsfrsScale:
    from alstrial.scoring import AlsfrsScale

    try:
        return AlsfrsScale(text)
    except ValueError:
        raise ValidationError(
            f"unknown scale {text!r}", field="scale", value=text, allowed="ALSFRS-R, ALSFRS"
        ) from None
