"""RFC 9457 problem+json responses, the one error shape of the API."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.http import HttpResponse

from crm.core import context

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(
    status: int,
    title: Any,
    detail: Any = "",
    *,
    errors: Mapping[str, Sequence[Any]] | None = None,
    type_: str = "about:blank",
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type_, "title": str(title), "status": status}
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = [
            {"field": field, "message": str(message)} for field, messages in errors.items() for message in messages
        ]
    request_id = context.current().request_id
    if request_id:
        body["request_id"] = request_id
    return body


def problem_response(
    status: int,
    title: Any,
    detail: Any = "",
    *,
    errors: Mapping[str, Sequence[Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    body = problem_body(status, title, detail, errors=errors)
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False).encode("utf-8"),
        status=status,
        content_type=f"{PROBLEM_CONTENT_TYPE}; charset=utf-8",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response
