"""Typed request for views and endpoints that run only for an authenticated user."""

from django.http import HttpRequest

from crm.identity.models import User


class AuthedRequest(HttpRequest):
    user: User  # type: ignore[assignment]
