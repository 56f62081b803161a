"""The export page (issue 19, item 6): the statistician or the administrator picks a format
and, optionally, a data cut, and downloads the files as one zip; each export is recorded in
the audit trail (:func:`alstrial.interop.study_export.export_study`). The same download is on
the API with a token (``GET /api/export-files``, :mod:`alstrial.web.routes.api`)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import AlstrialError, ValidationError
from alstrial.interop.data_cut import named_cuts, resolve_cut
from alstrial.interop.study_export import EXPORT_FORMATS, ExportManifest, export_zip
from alstrial.store.models import DataExport
from alstrial.web.deps import CurrentUser, DbSession, Me, check_csrf, form_status, page, require

__all__ = ["router", "zip_response"]

router = APIRouter(include_in_schema=False)

#: The formats as the page offers them.
FORMAT_NAMES = {
    "csv": "CSV",
    "spss": "SPSS (.sav)",
    "stata": "Stata (.dta)",
    "sas": "SAS (.xpt and formats.sas)",
    "r": "R (.csv and load.R)",
    "parquet": "Parquet (labels and code lists in the schema)",
    "redcap": "REDCap (the protocol's own forms: dictionary, events, records)",
    "sdtm": "CDISC SDTM (SAS transport v5 and define.xml)",
    "odm": "CDISC ODM 1.3.2 (forms, data, audit trail, signatures)",
}


def study_wide(me: Me) -> None:
    """An export covers every site: only a study-wide role may make one."""
    require(me, "export")
    if me.sites is not None:
        raise HTTPException(status_code=403, detail="an export covers every site")


def zip_response(archive: bytes, manifest: ExportManifest) -> Response:
    """The zip as a download named after its format and the data's time."""
    stamp = manifest.data_as_of[:19].replace(":", "").replace("-", "")
    name = f"alstrial-{manifest.study}-{manifest.format}-{stamp}.zip"
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _page(
    request: Request,
    session: Session,
    me: Me,
    *,
    status: int = 200,
    error: str | None = None,
    chosen: str = "",
    cut: str = "",
    with_files: bool = False,
) -> HTMLResponse:
    recent = session.scalars(select(DataExport).order_by(DataExport.id.desc()).limit(20)).all()
    cuts = named_cuts(session)
    return page(
        request,
        "export.html.j2",
        status=status,
        me=me,
        formats=FORMAT_NAMES,
        recent=recent,
        cuts=cuts,
        error=error,
        chosen=chosen,
        cut=cut,
        with_files=with_files,
    )


@router.get("/export", response_class=HTMLResponse)
def export_page(request: Request, session: DbSession, me: CurrentUser) -> HTMLResponse:
    study_wide(me)
    return _page(request, session, me)


@router.post("/export")
async def export_download(request: Request, session: DbSession, me: CurrentUser) -> Response:
    """Make the export and send it as a zip; a refusal shows the page with the reason."""
    form = await request.form()
    check_csrf(request, me, str(form.get("csrf", "")))
    study_wide(me)
    fmt = str(form.get("format", "")).strip()
    cut_text = str(form.get("cut", "")).strip()
    with_files = form.get("with_files") == "yes"
    try:
        if fmt not in EXPORT_FORMATS:
            raise ValidationError(
                f"choose a format ({', '.join(EXPORT_FORMATS)})", field="format", value=fmt
            )
        cut = resolve_cut(session, cut_text) if cut_text else None
        archive, manifest = export_zip(
            session, fmt, actor=me.user.username, cut=cut, with_files=with_files
        )
    except AlstrialError as error:
        session.rollback()
        return _page(
            request,
            session,
            me,
            status=form_status(error),
            error=error.message,
            chosen=fmt,
            cut=cut_text,
            with_files=with_files,
        )
    return zip_response(archive, manifest)
