"""Read a protocol file (TOML) into a validated :class:`~alstrial.protocol.model.Protocol`."""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic

from alstrial.exceptions import NotFoundError, ProtocolError
from alstrial.protocol.model import Protocol

__all__ = [
    "load_protocol",
    "parse_protocol",
    "protocol_digest",
    "read_protocol_text",
    "reference_protocol_text",
]


MAX_PROTOCOL_CHARS = 2_000_000


def _key_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(file)"


def _lookup(data: Any, location: tuple[int | str, ...]) -> Any:
    for part in location:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def parse_protocol(text: str, *, source: str = "<protocol>") -> Protocol:
    """Validate the TOML text of a protocol.

    Raises
    ------
    ProtocolError
        Naming the source, the key (``visits[2].day``), the value found and what was expected.
    """
    if len(text) > MAX_PROTOCOL_CHARS:
        raise ProtocolError(
            f"{source}: {len(text)} characters; a protocol has at most {MAX_PROTOCOL_CHARS}"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProtocolError(f"{source}: not valid TOML: {error}") from error
    except RecursionError:
        raise ProtocolError(f"{source}: not valid TOML: nested too deeply") from None
    forms = data.get("forms") if isinstance(data, dict) else None
    visit_forms = [
        f.get("name")
        for f in (forms if isinstance(forms, list) else [])
        if isinstance(f, dict) and f.get("scope", "visit") == "visit"
    ]
    try:
        return Protocol.model_validate(data, context={"visit_forms": visit_forms})
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        key = _key_path(location)
        value = first.get("input") if location else None
        if value is None:
            value = _lookup(data, location)
        expected = first["msg"].removeprefix("Value error, ")
        more = error.error_count() - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ProtocolError(
            f"{source}: key {key}: {expected}{tail}",
            field=key,
            value=value,
            allowed=expected,
        ) from error


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol file.

    Raises
    ------
    NotFoundError
        When the file does not exist.
    ProtocolError
        When it is not valid TOML or does not validate.
    """
    return parse_protocol(read_protocol_text(path), source=str(path))


def read_protocol_text(path: str | Path) -> str:
    """The text of a protocol file (not yet validated).

    Raises
    ------
    NotFoundError
        When the file does not exist.
    ProtocolError
        When it is a folder, not UTF-8 text, or cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise NotFoundError(f"protocol file {path} does not exist", value=str(path)) from error
    except IsADirectoryError:
        raise ProtocolError(f"{path} is a folder; give the protocol's TOML file") from None
    except UnicodeDecodeError as error:
        raise ProtocolError(
            f"{path} is not a text file (byte {error.start} is not UTF-8); a protocol is TOML"
        ) from None
    except OSError as error:
        raise ProtocolError(f"{path} cannot be read: {error.strerror}") from None
    if len(text) > MAX_PROTOCOL_CHARS:
        raise ProtocolError(
            f"{path}: {len(text)} characters; a protocol has at most {MAX_PROTOCOL_CHARS}"
        )
    return text


def reference_protocol_text() -> str:
    """The TOML text of the reference trial's protocol shipped with alstrial."""
    return resources.files("alstrial.data").joinpath("reference_protocol.toml").read_text("utf-8")


def protocol_digest(text: str) -> str:
    """SHA-256 hex digest of a protocol text, stored with each protocol version."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
