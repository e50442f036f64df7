"""Errors services raise; the API turns them into problem+json and pages into form errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A request that cannot be carried out as asked. `status` is the HTTP status it maps to."""

    status = 400
    title: Any = _("Bad request")

    def __init__(
        self,
        detail: Any = "",
        *,
        errors: Mapping[str, Sequence[Any] | Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(str(detail))
        self.detail = detail
        self.errors: dict[str, list[str]] = {}
        for field, messages in (errors or {}).items():
            if isinstance(messages, (list, tuple)):
                self.errors[field] = [str(m) for m in messages]
            else:
                self.errors[field] = [str(messages)]
        if status is not None:
            self.status = status


class ValidationFailed(DomainError):
    status = 422
    title = _("The data is not valid")


class NotFound(DomainError):
    status = 404
    title = _("Not found")


class Forbidden(DomainError):
    status = 403
    title = _("Not allowed")


class Conflict(DomainError):
    status = 409
    title = _("Conflict")


class PreconditionFailed(DomainError):
    status = 412
    title = _("The record changed since you read it")


def check_version(current: int, expected: int | None) -> None:
    """Optimistic concurrency: refuse an update made against a stale version of the record."""
    if expected is not None and int(expected) != int(current):
        raise PreconditionFailed(
            _(
                "This record was changed by someone else (version %(current)s, you sent %(expected)s). "
                "Reload and try again."
            )
            % {"current": current, "expected": expected}
        )
