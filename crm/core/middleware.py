"""Request plumbing: request ids and client context, metrics, bearer-token authentication."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from crm.core import context, metrics
from crm.core.problems import problem_response

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def client_ip(request: HttpRequest) -> str | None:
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


class RequestContextMiddleware:
    """Gives every request an id (kept from X-Request-ID when sane) and binds it for logs and audit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else context.new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        ctx = context.RequestContext(
            request_id=request_id,
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
            channel="api" if is_api_path(request.path) else "web",
        )
        with context.bind(ctx):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class MetricsMiddleware:
    """Counts requests and their latency per route (the URL pattern, not the raw path)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        metrics.observe_request(request.method or "GET", _route_of(request), response.status_code, elapsed)
        return response


def _route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "<unmatched>"
    return "/" + (match.route or "").lstrip("^")


class ApiTokenMiddleware:
    """Authenticates `Authorization: Bearer <token>` on API paths; sessions keep working too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.auth_method = "session" if request.user.is_authenticated else None  # type: ignore[attr-defined]
        header = request.headers.get("Authorization", "")
        if is_api_path(request.path) and header:
            scheme, _sep, secret = header.partition(" ")
            user = _token_authenticator()(secret.strip()) if scheme.lower() == "bearer" else None
            if user is None:
                return problem_response(401, _("Authentication failed"), _("The token is missing, expired or revoked."))
            request.user = user  # type: ignore[assignment]
            request.auth_method = "token"  # type: ignore[attr-defined]
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)


def _token_authenticator() -> Callable[[str], object | None]:
    """The identity app supplies the token check (core does not import it): CRM_TOKEN_AUTHENTICATOR."""
    return import_string(settings.CRM_TOKEN_AUTHENTICATOR)
