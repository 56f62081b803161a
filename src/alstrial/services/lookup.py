"""Finding stored records by their business keys, with errors that name what is missing."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, NotFoundError
from alstrial.protocol import Protocol, parse_protocol
from alstrial.store.models import Enrolment, ProtocolVersion, Site, Study, Subject, Visit

__all__ = [
    "current_protocol",
    "enrolment_of",
    "find_site",
    "find_subject",
    "find_visit",
    "latest_protocol_version",
    "only_study",
    "protocol_of",
]


def only_study(session: Session) -> Study:
    """The study of this database (alstrial keeps one study per database)."""
    studies = session.scalars(select(Study)).all()
    if not studies:
        raise NotFoundError("no study in this database; run `alstrial init` or `alstrial demo`")
    if len(studies) > 1:
        raise ConflictError("this database holds several studies; keep one study per database")
    return studies[0]


def latest_protocol_version(session: Session, study: Study) -> ProtocolVersion:
    """The most recently loaded protocol version of a study."""
    version = session.scalars(
        select(ProtocolVersion)
        .where(ProtocolVersion.study_id == study.id)
        .order_by(ProtocolVersion.id.desc())
    ).first()
    if version is None:
        raise NotFoundError(f"study {study.code} has no protocol version")
    return version


@lru_cache(maxsize=32)
def _parse_cached(text: str) -> Protocol:
    return parse_protocol(text)


def protocol_of(version: ProtocolVersion) -> Protocol:
    """The validated protocol of a stored version."""
    return _parse_cached(version.text)


def current_protocol(session: Session) -> Protocol:
    """The validated protocol of the study's latest version."""
    return protocol_of(latest_protocol_version(session, only_study(session)))


def find_site(session: Session, code: str) -> Site:
    """The site with this code."""
    site = session.scalars(select(Site).where(Site.code == code)).one_or_none()
    if site is None:
        raise NotFoundError(f"no site {code!r}", field="site", value=code)
    return site


def find_subject(session: Session, code: str) -> Subject:
    """The subject with this pseudonymous study code."""
    subject = session.scalars(select(Subject).where(Subject.study_code == code)).one_or_none()
    if subject is None:
        raise NotFoundError(f"no subject {code!r}", subject=code)
    return subject


def enrolment_of(session: Session, subject: Subject, *, form: str | None = None) -> Enrolment:
    """The subject's enrolment; a subject not enrolled cannot have visits or treatment."""
    enrolment = session.scalars(
        select(Enrolment).where(Enrolment.subject_id == subject.id)
    ).one_or_none()
    if enrolment is None:
        raise ConflictError(
            f"subject {subject.study_code} is not enrolled", subject=subject.study_code, form=form
        )
    return enrolment


def find_visit(session: Session, subject: Subject, code: str, *, form: str | None = None) -> Visit:
    """The subject's scheduled visit with this code."""
    visit = session.scalars(
        select(Visit).where(Visit.subject_id == subject.id, Visit.code == code)
    ).one_or_none()
    if visit is None:
        raise NotFoundError(
            f"subject {subject.study_code} has no visit {code!r}",
            subject=subject.study_code,
            form=form,
            field="visit",
            value=code,
        )
    return visit
