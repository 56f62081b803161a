"""The one exception hierarchy of alstrial.

Every error that alstrial raises on purpose derives from :class:`AlstrialError` and carries
the context a user needs to fix the input: the subject, the form, the field, the value given
and what is allowed. The CLI turns any of them into exit code 2 and one line
(:func:`alstrial.cli.errors.render_error`); the web layer will turn them into one JSON shape.

::

    AlstrialError
    ├── ValidationError          input that breaks a rule (range, type, unit, missing reason)
    │   ├── FormValidationError  a form with several problems, each at its field
    │   └── ProtocolError        a study definition file that does not validate
    ├── NotFoundError            a subject, visit, record or file that does not exist
    ├── PermissionDeniedError    an actor who may not do this
    ├── ConflictError            a state that forbids the action (already enrolled, ineligible)
    ├── IntegrityError           stored data or audit trail that fails verification
    └── ConfigurationError       settings that cannot be used (database URL, secret key)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "AlstrialError",
    "ConfigurationError",
    "ConflictError",
    "FormValidationError",
    "IntegrityError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "ValidationError",
]


class AlstrialError(Exception):
    """Base class of every error alstrial raises on purpose.

    Parameters
    ----------
    message
        One sentence saying what is wrong and, where possible, how to fix it.
    subject, form, field, value, allowed
        Structured context; whichever apply. ``value`` is the offending input as given.
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        subject: str | None = None,
        form: str | None = None,
        field: str | None = None,
        value: Any = None,
        allowed: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.subject = subject
        self.form = form
        self.field = field
        self.value = value
        self.allowed = allowed

    def context(self) -> Mapping[str, Any]:
        """The structured fields that are set, in a fixed order."""
        items = {
            "subject": self.subject,
            "form": self.form,
            "field": self.field,
            "value": self.value,
            "allowed": self.allowed,
        }
        return {key: value for key, value in items.items() if value is not None}

    def one_line(self) -> str:
        """The message followed by its context, on one line, for terminals and logs."""
        parts = [f"{key}={value!r}" for key, value in self.context().items()]
        suffix = f" ({', '.join(parts)})" if parts else ""
        return f"{self.message}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        """The fixed error shape shared by ``--json`` output and the web API."""
        return {"error": self.kind, "message": self.message, **self.context()}


class ValidationError(AlstrialError):
    """Input that breaks a rule: out of range, wrong type or unit, a required reason missing."""

    kind = "validation"


class FormValidationError(ValidationError):
    """A form with several problems at once, each at its field: ``errors`` (field -> what is
    wrong, worded with the field's label) and ``unconfirmed`` (field -> a value outside its
    soft range that needs a confirmation). The message lists them all; ``field`` is the
    first."""

    def __init__(
        self,
        *,
        form: str,
        errors: Mapping[str, str],
        unconfirmed: Mapping[str, str] | None = None,
        subject: str | None = None,
        title: str | None = None,
    ) -> None:
        self.errors = dict(errors)
        self.unconfirmed = dict(unconfirmed or {})
        problems = [*self.errors.values(), *self.unconfirmed.values()]
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"{title or form}: {count}, nothing saved: " + "; ".join(problems),
            subject=subject,
            form=form,
            field=next(iter([*self.errors, *self.unconfirmed]), None),
        )

    def to_dict(self) -> dict[str, Any]:
        """The error shape, with every problem by field."""
        return super().to_dict() | {"errors": self.errors, "unconfirmed": self.unconfirmed}


class ProtocolError(ValidationError):
    """A study definition (protocol file) that does not validate."""

    kind = "protocol"


class NotFoundError(AlstrialError):
    """A subject, visit, record, batch or file that does not exist."""

    kind = "not_found"


class PermissionDeniedError(AlstrialError):
    """An actor who is not allowed to perform the action."""

    kind = "permission"


class ConflictError(AlstrialError):
    """The current state forbids the action (already enrolled, ineligible, locked)."""

    kind = "conflict"


class IntegrityError(AlstrialError):
    """Stored data or the audit trail failed verification."""

    kind = "integrity"


class ConfigurationError(AlstrialError):
    """Settings that cannot be used."""

    kind = "configuration"
