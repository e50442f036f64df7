"""Each user's saved language and time zone apply to their requests (profile page settings)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from crm.core.middleware import is_api_path


class UserPreferencesMiddleware:
    """After authentication: the user's time zone for display, and their language unless the
    request chose one itself (the language switch's cookie, or an API client's Accept-Language)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if zone:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = ""
        chosen = settings.LANGUAGE_COOKIE_NAME in request.COOKIES or (
            is_api_path(request.path) and "Accept-Language" in request.headers
        )
        if language and not chosen:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        try:
            return self.get_response(request)
        finally:
            if zone:
                timezone.deactivate()
