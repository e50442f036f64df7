"""API conventions shared by every router: auth, problem+json errors, cursor pages, versions."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder
from ninja.security import APIKeyCookie, HttpBearer

from crm.core.errors import DomainError
from crm.core.problems import problem_response

logger = logging.getLogger(__name__)
T = TypeVar("T")


class UnicodeJSONRenderer(JSONRenderer):
    """Chinese stays readable UTF-8 in responses instead of \\u escapes."""

    json_dumps_params = {"ensure_ascii": False}


class BearerAuth(HttpBearer):
    """`Authorization: Bearer crm_…`; the token is checked by ApiTokenMiddleware before routing."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        if getattr(request, "auth_method", None) == "token":
            return request.user
        return None


class SessionAuth(APIKeyCookie):
    """The browser's login session; unsafe methods must carry the CSRF token (X-CSRFToken)."""

    param_name = "sessionid"

    def __init__(self) -> None:
        from django.conf import settings

        self.param_name = settings.SESSION_COOKIE_NAME
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if getattr(request, "auth_method", None) == "session" and request.user.is_authenticated:
            return request.user
        return None


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie", "form", "payload")]
    # ninja nests the body under the parameter name; drop it when it is the schema argument.
    if len(parts) > 1 and parts[0] in {"data", "payload", "body", "filters"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        field = _field_path(error.get("loc", ()))
        message = _translate_pydantic(error)
        errors.setdefault(field, []).append(message)
    return errors


def _translate_pydantic(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    messages: dict[str, Callable[[], str]] = {
        "missing": lambda: _("This field is required."),
        "int_parsing": lambda: _("Enter a whole number."),
        "int_type": lambda: _("Enter a whole number."),
        "float_parsing": lambda: _("Enter a number."),
        "decimal_parsing": lambda: _("Enter a number."),
        "decimal_type": lambda: _("Enter a number."),
        "bool_parsing": lambda: _("Enter true or false."),
        "string_type": lambda: _("Enter text."),
        "string_too_long": lambda: _("Use at most %(n)s characters.") % {"n": ctx.get("max_length")},
        "string_too_short": lambda: _("Use at least %(n)s characters.") % {"n": ctx.get("min_length")},
        "date_from_datetime_parsing": lambda: _("Enter a valid date (YYYY-MM-DD)."),
        "date_parsing": lambda: _("Enter a valid date (YYYY-MM-DD)."),
        "datetime_parsing": lambda: _("Enter a valid date and time (ISO 8601)."),
        "datetime_from_date_parsing": lambda: _("Enter a valid date and time (ISO 8601)."),
        "enum": lambda: _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected", "")},
        "literal_error": lambda: _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected", "")},
        "greater_than_equal": lambda: _("Must be at least %(n)s.") % {"n": ctx.get("ge")},
        "greater_than": lambda: _("Must be greater than %(n)s.") % {"n": ctx.get("gt")},
        "less_than_equal": lambda: _("Must be at most %(n)s.") % {"n": ctx.get("le")},
        "extra_forbidden": lambda: _("Unknown field."),
        "model_attributes_type": lambda: _("Send a JSON object."),
        "dict_type": lambda: _("Send a JSON object."),
        "list_type": lambda: _("Send a list."),
        "json_invalid": lambda: _("The body is not valid JSON."),
    }
    maker = messages.get(kind)
    if maker is not None:
        return maker()
    return str(error.get("msg", _("Invalid value.")))


def install_conventions(api: NinjaAPI) -> None:
    """Error handlers that answer every failure as application/problem+json."""

    @api.exception_handler(ValidationError)
    def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return problem_response(422, _("The data is not valid"), errors=validation_errors(exc))

    @api.exception_handler(DomainError)
    def _domain(request: HttpRequest, exc: DomainError) -> HttpResponse:
        return problem_response(exc.status, exc.title, exc.detail, errors=exc.errors)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return problem_response(
            401,
            _("Authentication required"),
            _("Log in, or send a valid token as 'Authorization: Bearer <token>'."),
            headers={"WWW-Authenticate": 'Bearer realm="crm"'},
        )

    @api.exception_handler(AuthorizationError)
    def _forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
        return problem_response(403, _("Not allowed"), str(exc.message))

    @api.exception_handler(PermissionDenied)
    def _permission(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return problem_response(403, _("Not allowed"), str(exc) or _("You may not do this."))

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem_response(404, _("Not found"), _("No such resource, or you may not see it."))

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        detail = exc.message
        if exc.status_code == 400 and ("JSON" in detail or "parse" in detail):
            detail = _("The body is not valid JSON.")
        return problem_response(exc.status_code, _("Bad request") if exc.status_code == 400 else detail, detail)

    @api.exception_handler(RequestDataTooBig)
    def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return problem_response(413, _("Request too large"), _("The request body is larger than the server accepts."))

    @api.exception_handler(SuspiciousOperation)
    def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        return problem_response(400, _("Bad request"), _("The request could not be understood."))

    @api.exception_handler(Exception)
    def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("unhandled API error")
        return problem_response(500, _("Server error"), _("Something went wrong on our side; it has been logged."))


# --- cursor pagination ------------------------------------------------------------------------


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), default=str, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise DomainError(_("The cursor is not valid."), errors={"cursor": [_("Invalid cursor.")]}) from exc
    if not isinstance(values, list):
        raise DomainError(_("The cursor is not valid."), errors={"cursor": [_("Invalid cursor.")]})
    return values


def paginate(
    qs: QuerySet[Any], *, cursor: str | None, limit: int, ordering: Sequence[str]
) -> tuple[list[Any], str | None]:
    """Keyset pagination over `ordering` (which must end in a unique field, e.g. "-id").

    Stable under inserts and deletes: the cursor holds the last row's sort values, not an offset.
    """
    from django.conf import settings
    from django.db.models import Q

    limit = max(1, min(int(limit or settings.API_PAGE_SIZE), settings.API_MAX_PAGE_SIZE))
    fields = [f.lstrip("-") for f in ordering]
    qs = qs.order_by(*ordering)
    if cursor:
        values = _decode_cursor(cursor)
        if len(values) != len(fields):
            raise DomainError(_("The cursor is not valid."), errors={"cursor": [_("Invalid cursor.")]})
        condition = Q()
        for i, name in enumerate(ordering):
            field = fields[i]
            op = "lt" if name.startswith("-") else "gt"
            step = Q(**{f"{fields[j]}": values[j] for j in range(i)}) & Q(**{f"{field}__{op}": values[i]})
            condition |= step
        qs = qs.filter(condition)
    rows = list(qs[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor([_attr(last, f) for f in fields])
    return rows, next_cursor


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("__"):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def parse_if_match(value: str | None) -> int | None:
    """The record version from an `If-Match` header (`"3"`, `3` or `W/"3"`); None when absent."""
    if value is None or not value.strip():
        return None
    raw = value.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise DomainError(
            _("If-Match must hold the record's version."),
            errors={"If-Match": [_('Send the version number you read, e.g. "3".')]},
        )
    return int(raw)


def version_from(body_version: int | None, if_match: str | None) -> int | None:
    """The expected version of a PATCH: the body's `version` wins over `If-Match`."""
    return body_version if body_version is not None else parse_if_match(if_match)


def make_api(**kwargs: Any) -> NinjaAPI:
    api = NinjaAPI(renderer=UnicodeJSONRenderer(), auth=[BearerAuth(), SessionAuth()], **kwargs)
    install_conventions(api)
    return api


__all__ = ["NinjaJSONEncoder", "Page", "make_api", "paginate", "parse_if_match", "version_from"]
