"""Setting a study up: the study with its protocol version, sites and users."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ProtocolError, ValidationError
from alstrial.protocol import Protocol, parse_protocol, protocol_digest
from alstrial.services.lookup import check_code
from alstrial.services.transaction import transaction
from alstrial.store.models import ProtocolVersion, Site, Study, User

__all__ = ["add_site", "add_user", "amend_protocol", "create_study"]


def create_study(session: Session, *, actor: str, protocol_text: str) -> Study:
    """Create the study of this database from a protocol's TOML text (validated first)."""
    protocol = parse_protocol(protocol_text)
    _refuse_problems(protocol)
    if session.scalars(select(Study)).first() is not None:
        raise ConflictError("this database already holds a study; use a new database")
    with transaction(session, actor=actor):
        info = protocol.study
        study = Study(
            code=info.code,
            title=info.title,
            sponsor=info.sponsor,
            phase=info.phase,
            registrations=", ".join(info.registrations),
        )
        session.add(study)
        session.flush()
        session.add(
            ProtocolVersion(
                study_id=study.id,
                version=info.protocol_version,
                text=protocol_text,
                digest=protocol_digest(protocol_text),
            )
        )
    return study


def _refuse_problems(protocol: Protocol) -> None:
    """A new protocol or amendment must have a form for every assessment it schedules."""
    problems = protocol.problems()
    if problems:
        raise ProtocolError("; ".join(problems), field="forms")


def amend_protocol(
    session: Session, *, actor: str, protocol_text: str, reason: str
) -> ProtocolVersion:
    """Load a new version of the study's protocol (an amendment), audited with its reason.

    The new version takes effect at once: forms it adds can be entered, visits check what it
    schedules, and a correction is checked against it. Stored data are never rewritten
    (:func:`alstrial.protocol.diff.protocol_diff` says what a change means for them).

    Raises
    ------
    ProtocolError
        The text does not validate.
    ValidationError
        No reason; another study's protocol; the same version; a visit schedule that moves,
        adds or removes visits (enrolled subjects' visits are not rescheduled); an arm that
        enrolled subjects are in is removed.
    """
    from alstrial.services.lookup import current_protocol, latest_protocol_version, only_study
    from alstrial.store.models import Enrolment

    if not reason or not reason.strip():
        raise ValidationError("an amendment needs its reason", form="protocol", field="reason")
    new = parse_protocol(protocol_text)
    _refuse_problems(new)
    study = only_study(session)
    old = current_protocol(session)
    latest = latest_protocol_version(session, study)

    def refuse(message: str, field: str) -> ValidationError:
        return ValidationError(message, form="protocol", field=field)

    if new.study.code != study.code:
        raise refuse(
            f"the protocol is for study {new.study.code}, this database holds {study.code}",
            "study.code",
        )
    if new.study.protocol_version == latest.version or protocol_digest(protocol_text) == (
        latest.digest
    ):
        raise refuse(
            f"version {latest.version} is loaded already; give the amendment its own "
            "study.protocol_version",
            "study.protocol_version",
        )
    schedule = [(v.code, v.day, v.window_before, v.window_after) for v in old.visits]
    if [(v.code, v.day, v.window_before, v.window_after) for v in new.visits] != schedule:
        raise refuse(
            "the amendment changes the visits (codes, days or windows); alstrial does not "
            "yet reschedule enrolled subjects' visits, so an amendment keeps them and may "
            "change what each visit schedules",
            "visits",
        )
    used = set(session.scalars(select(Enrolment.arm_code).distinct()))
    missing = sorted(used - {arm.code for arm in new.arms})
    if missing:
        raise refuse(
            f"subjects are enrolled in arm(s) {', '.join(missing)}, which it removes", "arms"
        )
    with transaction(session, actor=actor, reason=reason):
        version = ProtocolVersion(
            study_id=study.id,
            version=new.study.protocol_version,
            text=protocol_text,
            digest=protocol_digest(protocol_text),
        )
        session.add(version)
    return version


def add_site(session: Session, *, actor: str, code: str, name: str) -> Site:
    """Add a clinical site."""
    check_code(code, form="site", field="code", length=20)
    if session.scalars(select(Site).where(Site.code == code)).first() is not None:
        raise ConflictError(f"site {code!r} exists already", form="site", field="code", value=code)
    with transaction(session, actor=actor):
        site = Site(code=code, name=name)
        session.add(site)
    return site


def add_user(session: Session, *, actor: str, username: str, full_name: str = "") -> User:
    """Add a person who acts in the system (identity only)."""
    if not username.strip() or len(username) > 80:
        raise ValidationError(
            "a user name is 1-80 characters", form="user", field="username", value=username
        )
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise ConflictError(
            f"user {username!r} exists already", form="user", field="username", value=username
        )
    with transaction(session, actor=actor):
        user = User(username=username, full_name=full_name)
        session.add(user)
    return user


def list_sites(session: Session) -> list[Site]:
    """Every site, by code."""
    return list(session.scalars(select(Site).order_by(Site.code)))
