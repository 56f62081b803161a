"""Finding stored records by their business keys, with errors that name what is missing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import Executable, Result, bindparam, event, func, inspect, select
from sqlalchemy.orm import Session, SessionTransaction

from alstrial.exceptions import ConflictError, NotFoundError, ValidationError
from alstrial.protocol import Protocol, parse_protocol
from alstrial.store.models import Enrolment, ProtocolVersion, Site, Study, Subject, User, Visit

__all__ = [
    "SubjectRef",
    "VisitAt",
    "current_protocol",
    "current_protocol_version_id",
    "enrolment_of",
    "find_site",
    "find_subject",
    "find_subject_ref",
    "find_visit",
    "find_visit_at",
    "latest_protocol_version",
    "only_study",
    "protocol_of",
    "read_columns",
    "remember_protocol_per_session",
]


_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_code(value: str, *, form: str, field: str, length: int) -> str:
    """A code that can stand in a URL, a file name and an export: letters, digits, '.', '_'
    and '-', starting with a letter or digit, at most ``length`` characters (issue 14: a
    subject code with '/' was accepted and its page could not be opened)."""
    if not value or len(value) > length or _CODE.fullmatch(value) is None:
        raise ValidationError(
            f"{field} {value!r} must be 1-{length} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            form=form,
            field=field,
            value=value,
            allowed=f"[A-Za-z0-9][A-Za-z0-9._-]{{0,{length - 1}}}",
        )
    return value


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


#: Parsed protocols by the SHA-256 of their text (a stored version never changes).
_PROTOCOLS: dict[str, Protocol] = {}


def protocol_of(version: ProtocolVersion) -> Protocol:
    """The validated protocol of a stored version."""
    protocol = _PROTOCOLS.get(version.digest)
    if protocol is None:
        protocol = _PROTOCOLS[version.digest] = parse_protocol(version.text)
    return protocol


#: The latest protocol version's id and digest, and the number of studies: one statement,
#: built once (building a statement costs as much CPU as running it; profile of a web save).
_LATEST_PROTOCOL = (
    select(
        ProtocolVersion.id,
        ProtocolVersion.digest,
        select(func.count()).select_from(Study).scalar_subquery(),
    )
    .order_by(ProtocolVersion.id.desc())
    .limit(1)
)

#: ``session.info`` key: present on a session that may keep the protocol it has read.
_PROTOCOL_MEMO_KEY = "alstrial.protocol"


def remember_protocol_per_session(session: Session) -> None:
    """Let ``session`` read the protocol once and keep it for its life.

    For the short sessions of one web request (a save asks for the protocol before and after
    its commit): an amendment committed by another session meanwhile is seen by the next
    request, as it would be had it been committed a moment later. A protocol version added
    or study added in this session clears the memo (:func:`_forget_on_new_protocol`).
    Long-lived sessions (scripts, tests) do not call this and
    read the protocol on every call.
    """
    session.info[_PROTOCOL_MEMO_KEY] = None


@event.listens_for(Session, "before_flush")
def _forget_on_new_protocol(session: Session, flush_context: object, instances: object) -> None:
    """A protocol version or study about to be written clears the session's memo."""
    if session.info.get(_PROTOCOL_MEMO_KEY) is not None and any(
        isinstance(obj, ProtocolVersion | Study) for obj in session.new
    ):
        session.info[_PROTOCOL_MEMO_KEY] = None


def current_protocol(session: Session) -> Protocol:
    """The validated protocol of the study's latest version.

    Every service asks for it, so it costs one statement: the latest version's digest and
    the number of studies; the text is read and parsed only for a digest not seen before.
    A session marked by :func:`remember_protocol_per_session` reads it once.
    """
    return _current(session)[0]


def current_protocol_version_id(session: Session) -> int:
    """The id of the study's latest protocol version (the one :func:`current_protocol`
    returns): what a saved form instance records it was entered under. Read with the
    protocol, in the same statement and under the same memo."""
    return _current(session)[1]


def _current(session: Session) -> tuple[Protocol, int]:
    remembered = session.info.get(_PROTOCOL_MEMO_KEY)
    if remembered is not None:
        return remembered  # type: ignore[no-any-return]
    current = _read_current_protocol(session)
    if _PROTOCOL_MEMO_KEY in session.info:
        session.info[_PROTOCOL_MEMO_KEY] = current
    return current


def read_columns(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> Result[*tuple[Any, ...]]:
    """A select of columns (no ORM entities) run in the session's transaction, after the
    flush ``session.execute`` would do, but through its connection: the ORM's work on the
    result is left out, half the time of ``session.execute`` (92 against 192 µs for one
    save's last-instance number, measured alone)."""
    session.flush()
    return session.connection().execute(statement, params or {})


def _read_current_protocol(session: Session) -> tuple[Protocol, int]:
    latest = read_columns(session, _LATEST_PROTOCOL).first()
    if latest is None or latest[2] != 1:
        study = only_study(session)  # raises the error that says what is wrong
        version = latest_protocol_version(session, study)
        return protocol_of(version), version.id
    known = _PROTOCOLS.get(latest[1])
    if known is not None:
        return known, int(latest[0])
    stored = session.get(ProtocolVersion, latest[0])
    assert stored is not None  # it was just read
    return protocol_of(stored), stored.id


def find_site(session: Session, code: str) -> Site:
    """The site with this code."""
    site = session.scalars(select(Site).where(Site.code == code)).one_or_none()
    if site is None:
        raise NotFoundError(f"no site {code!r}", field="site", value=code)
    return site


_SUBJECT_BY_CODE = select(Subject).where(Subject.study_code == bindparam("code"))
_VISIT_BY_CODE = select(Visit).where(
    Visit.subject_id == bindparam("subject_id"), Visit.code == bindparam("code")
)

#: Subjects this session has looked up, by study code (the code never changes).
_SUBJECTS_KEY = "alstrial.subjects"


def find_subject(session: Session, code: str) -> Subject:
    """The subject with this pseudonymous study code.

    A request looks the subject up more than once (the site check, then the service); the
    session remembers it, as its identity map would for a primary key.
    """
    known: dict[str, Subject] = session.info.setdefault(_SUBJECTS_KEY, {})
    subject = known.get(code)
    if subject is None or not inspect(subject).persistent:  # e.g. its insert rolled back
        subject = session.scalars(_SUBJECT_BY_CODE, {"code": code}).one_or_none()
        if subject is None:
            raise NotFoundError(f"no subject {code!r}", subject=code)
        known[code] = subject
    return subject


class SubjectRef(NamedTuple):
    """A subject's id, study code and site: what a save and a site check need of him."""

    id: int
    study_code: str
    site_id: int


_SUBJECT_REF_BY_CODE = select(Subject.id, Subject.study_code, Subject.site_id).where(
    Subject.study_code == bindparam("code")
)

#: Subjects this transaction has looked up as :class:`SubjectRef`, by study code; forgotten
#: when the transaction ends (a subject registered in it and rolled back is gone).
_SUBJECT_REFS_KEY = "alstrial.subject_refs"


def find_subject_ref(session: Session, code: str) -> SubjectRef:
    """As :func:`find_subject`, the id, code and site alone, read as columns (the ORM's load
    of the subject was a twentieth of a dictionary form's web save, issue 17); a request's
    site check and its save read it once."""
    known: dict[str, SubjectRef] = session.info.setdefault(_SUBJECT_REFS_KEY, {})
    ref = known.get(code)
    if ref is None:
        row = read_columns(session, _SUBJECT_REF_BY_CODE, {"code": code}).first()
        if row is None:
            raise NotFoundError(f"no subject {code!r}", subject=code)
        ref = known[code] = SubjectRef(int(row[0]), str(row[1]), int(row[2]))
    return ref


@event.listens_for(Session, "after_transaction_end")
def _forget_subject_refs(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_SUBJECT_REFS_KEY, None)


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
    visit = session.scalars(_VISIT_BY_CODE, {"subject_id": subject.id, "code": code}).one_or_none()
    if visit is None:
        raise _no_visit(subject, code, form)
    return visit


def _no_visit(subject: Subject | SubjectRef, code: str, form: str | None) -> NotFoundError:
    return NotFoundError(
        f"subject {subject.study_code} has no visit {code!r}",
        subject=subject.study_code,
        form=form,
        field="visit",
        value=code,
    )


class VisitAt(NamedTuple):
    """A visit's id and code, what a save at it needs."""

    id: int
    code: str


_VISIT_ID_BY_CODE = select(Visit.id, Visit.code).where(
    Visit.subject_id == bindparam("subject_id"), Visit.code == bindparam("code")
)


def find_visit_at(
    session: Session, subject: Subject | SubjectRef, code: str, *, form: str | None = None
) -> VisitAt:
    """As :func:`find_visit`, the id and code alone, read as columns (a dictionary form's save
    needs no more, and the ORM's load of the visit was 4 % of its time, issue 17)."""
    found = read_columns(session, _VISIT_ID_BY_CODE, {"subject_id": subject.id, "code": code})
    row = found.first()
    if row is None:
        raise _no_visit(subject, code, form)
    return VisitAt(int(row[0]), str(row[1]))


def find_user(session: Session, username: str, *, form: str | None = None) -> User:
    """The account named ``username``; :class:`NotFoundError` if there is none."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFoundError(f"no user {username!r}", form=form, field="actor", value=username)
    return user
