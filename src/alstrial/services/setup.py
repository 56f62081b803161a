"""Setting a study up: the study with its protocol version, sites and users."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from alstrial.exceptions import ConflictError, ValidationError
from alstrial.protocol import parse_protocol, protocol_digest
from alstrial.services.lookup import check_code
from alstrial.services.transaction import transaction
from alstrial.store.models import ProtocolVersion, Site, Study, User

__all__ = ["add_site", "add_user", "create_study"]


def create_study(session: Session, *, actor: str, protocol_text: str) -> Study:
    """Create the study of this database from a protocol's TOML text (validated first)."""
    protocol = parse_protocol(protocol_text)
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
