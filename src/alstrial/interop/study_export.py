"""``alstrial export``: the study's analysis frames as labelled files, with a manifest.

Issue 19, item 1 (in part: CSV, SPSS and Stata). :func:`export_study` reads the frames
(:func:`~alstrial.services.frames.build_analysis_frames`), adds the wide table of the
repeated measures (one row per subject and visit), writes each in the chosen format
(:mod:`alstrial.interop.statistical_files`) and a ``manifest.json`` that lists every file
with its SHA-256, rows and columns, and says which data they came from: the time of the
export, alstrial's version, the protocol version and the SHA-256 of its text, the audit
trail's head (sequence number and hash), and whether any value is synthetic.

The files are written into a new folder beside the target and moved into place only when
all of them are written, so a refused or failed export leaves nothing half-written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from alstrial.exceptions import IntegrityError, ValidationError
from alstrial.interop.data_cut import DataCut, DataEvent, cut_session, last_data_event
from alstrial.interop.export_attachments import FILES_FOLDER, write_attachments
from alstrial.interop.odm_export import write_odm
from alstrial.interop.redcap_builtin import builtin_instruments
from alstrial.interop.redcap_records import RedcapProject, export_redcap_project
from alstrial.interop.sdtm import write_sdtm
from alstrial.interop.statistical_files import (
    FORMATS,
    Codes,
    WrittenFile,
    write_frame,
    write_r_script,
    write_sas_program,
)
from alstrial.protocol import Protocol
from alstrial.services.frames import (
    AnalysisFrames,
    build_analysis_frames,
    build_form_frame,
    stores_synthetic,
)
from alstrial.services.lookup import latest_protocol_version, only_study, protocol_of
from alstrial.services.transaction import transaction
from alstrial.store.models import DataExport
from alstrial.vocabulary import (
    AdverseEventOutcome,
    DiagnosticCategory,
    DispositionStatus,
    MilestoneKind,
    OnsetRegion,
    Provenance,
    Relatedness,
    Sex,
)

__all__ = ["EXPORT_FORMATS", "ExportManifest", "export_study", "export_zip"]

#: The frames written, in the manifest's order.
FRAMES = (
    "arms",
    "visits",
    "subjects",
    "measures",
    "measures_wide",
    "batches",
    "adverse_events",
    "milestones",
    "labs",
    "forms",
)


@dataclass(frozen=True)
class ExportManifest:
    """What an export wrote and which data it came from (``manifest.json``)."""

    format: str
    exported_at: str
    #: The cut asked for, and the time of the last audit event the data hold.
    data_cut: str
    data_as_of: str
    alstrial_version: str
    study: str
    protocol_version: str
    protocol_sha256: str
    audit_head_seq: int
    audit_head_hash: str
    synthetic: bool
    #: How many of the subjects' attached files the export carries (``files/``), 0 unless
    #: asked for (:mod:`alstrial.interop.export_attachments`).
    attached_files: int
    files: tuple[WrittenFile, ...]


def export_study(
    session: Session,
    fmt: str,
    out: Path,
    *,
    actor: str,
    cut: DataCut | None = None,
    with_files: bool = False,
) -> ExportManifest:
    """Write the study's frames in ``fmt`` into the new folder ``out`` (module docstring);
    with ``cut``, the data as they stood then, rebuilt from the audit trail
    (:mod:`alstrial.interop.data_cut`). With ``with_files``, the subjects' attached files
    that the exported items name go with them, with their index
    (:mod:`alstrial.interop.export_attachments`).

    The SPSS, Stata and SAS headers carry the time of the data's last audit event (up to
    the cut) instead of the time of writing, so that exporting the same data twice gives the
    same bytes. The export itself is recorded (:class:`~alstrial.store.models.DataExport`,
    audited under ``actor``): format, cut, the data's last event and the manifest's SHA-256;
    its own event is not counted as the data's.

    Raises
    ------
    ValidationError
        An unknown format, an ``out`` that is a file or a folder that is not empty, or a
        cut before the study existed; nothing is written.
    IntegrityError
        A cut of an audit trail that does not verify, or an attached file whose bytes no
        longer match their digest; nothing is written.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValidationError(
            f"unknown export format {fmt!r}",
            field="format",
            value=fmt,
            allowed=", ".join(EXPORT_FORMATS),
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        what = "a file" if not out.is_dir() else "a folder that is not empty"
        raise ValidationError(
            f"{out} is {what}; give a new or empty folder for the export",
            field="out",
            value=str(out),
        )
    head = last_data_event(session, cut)
    if cut is None:
        if head is None:  # no study: only_study says so, as for every command
            only_study(session)
            raise IntegrityError("the study has no audit trail")
        return _export(session, session, fmt, out, actor, None, head, with_files)
    with cut_session(session, cut) as cut_db:
        assert head is not None  # the cut holds the study (cut_session refuses it otherwise)
        return _export(cut_db, session, fmt, out, actor, cut, head, with_files)


def export_zip(
    session: Session,
    fmt: str,
    *,
    actor: str,
    cut: DataCut | None = None,
    with_files: bool = False,
) -> tuple[bytes, ExportManifest]:
    """The export of :func:`export_study` as one zip file (the web page's and the API's
    download), with the manifest. Entries are in a fixed order and carry the data's time, so
    the same data give the same archive but for the manifest's time of export."""
    with tempfile.TemporaryDirectory(prefix="alstrial-export-") as folder:
        out = Path(folder) / "export"
        manifest = export_study(session, fmt, out, actor=actor, cut=cut, with_files=with_files)
        moment = datetime.fromisoformat(manifest.data_as_of).astimezone(UTC)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(p for p in out.rglob("*") if p.is_file()):
                name = path.relative_to(out).as_posix()
                entry = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, path.read_bytes())
    return buffer.getvalue(), manifest


#: Every format of ``alstrial export``: the statistical files, and a REDCap project.
EXPORT_FORMATS = (*FORMATS, "redcap", "sdtm", "odm")


def _write_redcap(
    session: Session, protocol: Protocol, forms: pd.DataFrame, folder: Path
) -> tuple[WrittenFile, ...]:
    """The built-in instruments and the protocol's own forms as a REDCap project
    (:mod:`alstrial.interop.redcap_records`), with ``untranslated.csv`` listing what REDCap
    cannot take."""
    builtin = builtin_instruments(session)
    values = pd.concat([builtin.values, forms], ignore_index=True) if len(forms) else builtin.values
    project = export_redcap_project(protocol, values, builtin.forms, builtin.assessments)
    texts = {
        "data_dictionary.csv": ("(REDCap data dictionary)", project.dictionary),
        "events.csv": ("(REDCap events)", project.events),
        "instrument_designation.csv": ("(REDCap instrument designation)", project.designation),
        "records.csv": ("forms", project.records),
        "untranslated.csv": ("(not carried over)", _untranslated_csv(project)),
    }
    written = []
    for name, (frame, text) in texts.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        rows = max(len(text.splitlines()) - 1, 0)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        columns = len(text.splitlines()[0].split(",")) if text else 0
        written.append(WrittenFile(name, frame, rows, columns, digest))
    return tuple(written)


def _untranslated_csv(project: RedcapProject) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "field", "why"])
    writer.writerows((u.row, u.field, u.reason) for u in project.untranslated)
    return out.getvalue()


#: The program that applies formats (SAS) or factors and labels (R) to the files.
_PROGRAMS = {"sas": write_sas_program, "r": write_r_script}


def _export(
    session: Session,
    live: Session,
    fmt: str,
    out: Path,
    actor: str,
    cut: DataCut | None,
    head: DataEvent,
    with_files: bool,
) -> ExportManifest:
    """Write the files from ``session`` (the live store, or a cut's), and record the export
    in ``live``."""
    from alstrial import __version__

    head_seq, head_hash, head_at = head.seq, head.hash, head.at
    study = only_study(session)
    version = latest_protocol_version(session, study)
    statistical = fmt in FORMATS
    if statistical:
        frames = build_analysis_frames(session)
        forms, synthetic = frames.forms, frames.synthetic
        tables, codes = _tables(frames), _codes(frames)
    else:  # SDTM, ODM and REDCap read the store themselves; they need the forms at most
        forms = build_form_frame(session) if fmt != "odm" else pd.DataFrame()
        synthetic = stores_synthetic(session)
        tables, codes = {}, Codes({})
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    moved = False
    stamp = head_at if head_at.tzinfo else head_at.replace(tzinfo=UTC)
    try:
        if fmt == "redcap":
            written = _write_redcap(session, protocol_of(version), forms, staging)
        elif fmt == "sdtm":
            written = write_sdtm(session, protocol_of(version), forms, staging, stamp=stamp)
        elif fmt == "odm":
            written = write_odm(
                session,
                live,
                protocol_of(version),
                staging,
                protocol_version=version.version,
                up_to_seq=head_seq,
                stamp=stamp,
            )
        else:
            written = tuple(
                write_frame(
                    table, name, staging, fmt, codes, synthetic=_synthetic(table), stamp=stamp
                )
                for name, table in tables.items()
            )
        if fmt in _PROGRAMS:
            written += (_PROGRAMS[fmt](tables, codes, staging, synthetic=synthetic),)
        attached: tuple[WrittenFile, ...] = ()
        if with_files:
            attached = write_attachments(session, live, staging)
            written += attached
        manifest = ExportManifest(
            format=fmt,
            exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
            data_cut=_describe(cut),
            data_as_of=stamp.isoformat(),
            alstrial_version=__version__,
            study=study.code,
            protocol_version=version.version,
            protocol_sha256=version.digest,
            audit_head_seq=head_seq,
            audit_head_hash=head_hash,
            synthetic=synthetic,
            attached_files=sum(1 for f in attached if f.file.startswith(f"{FILES_FOLDER}/")),
            files=written,
        )
        text = json.dumps(asdict(manifest), indent=2) + "\n"
        (staging / "manifest.json").write_text(text, encoding="utf-8")
        with transaction(live, actor=actor):
            live.add(
                DataExport(
                    format=fmt,
                    data_cut=manifest.data_cut[:60],
                    data_as_of=stamp,
                    audit_head_seq=head_seq,
                    files=len(written),
                    attached_files=manifest.attached_files,
                    manifest_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                )
            )
            live.flush()
            if out.exists():
                out.rmdir()  # empty (checked above)
            staging.rename(out)  # in place just before the record commits
            moved = True
    except BaseException:
        shutil.rmtree(out if moved else staging, ignore_errors=True)
        raise
    return manifest


def _describe(cut: DataCut | None) -> str:
    if cut is None:
        return "none: the data as they stand"
    if cut.seq is not None:
        return f"seq:{cut.seq}"
    assert cut.at is not None
    return cut.at.isoformat()


def _tables(frames: AnalysisFrames) -> dict[str, pd.DataFrame]:
    tables = {name: getattr(frames, name) for name in FRAMES if name != "measures_wide"}
    tables["measures_wide"] = _wide(frames.measures)
    return {name: tables[name] for name in FRAMES}


def _wide(measures: pd.DataFrame) -> pd.DataFrame:
    """One row per subject and visit, one column per measure (the long frame's values)."""
    keys = ["subject", "arm", "visit", "nominal_day"]
    if measures.empty:
        return pd.DataFrame(columns=[*keys, "provenance"])
    wide = measures.pivot_table(index=keys, columns="measure", values="value", aggfunc="first")
    wide.columns = [str(c) for c in wide.columns]
    synthetic = (measures["provenance"] == "synthetic").groupby([measures[k] for k in keys]).any()
    provenance = synthetic.map({True: "synthetic", False: "source"}).rename("provenance")
    wide = wide.join(provenance).reset_index()
    return wide.sort_values(["subject", "nominal_day"], kind="stable").reset_index(drop=True)


def _synthetic(table: pd.DataFrame) -> bool:
    return "provenance" in table.columns and bool((table["provenance"] == "synthetic").any())


def _words(values: object) -> list[tuple[str, str]]:
    return [(str(v), str(v).replace("_", " ")) for v in values]  # type: ignore[attr-defined]


def _codes(frames: AnalysisFrames) -> Codes:
    """The code lists of the coded variables: the protocol's arms and visits in its order,
    the vocabularies in theirs, and the frames' own values for the rest."""
    arms = [(str(a), str(n)) for a, n in zip(frames.arms["arm"], frames.arms["name"], strict=True)]
    visits = [
        (str(v), f"{v}: {label}")
        for v, label in zip(frames.visits["visit"], frames.visits["label"], strict=True)
    ]
    measures = sorted({str(m) for m in frames.measures.get("measure", [])})
    return Codes(
        {
            "arm": arms,
            "visit": visits,
            "sex": _words(Sex),
            "onset_region": _words(OnsetRegion),
            "diagnostic_category": _words(DiagnosticCategory),
            "disposition": _words(DispositionStatus),
            "relatedness": _words(Relatedness),
            "outcome": _words(AdverseEventOutcome),
            "kind": _words(MilestoneKind),
            "provenance": _words(Provenance),
            "measure": [(m, m.replace("_", " ")) for m in measures],
        }
    )
