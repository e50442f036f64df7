"""Test-only URLs: the real site plus views that fail, to see the error pages."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from crm.urls import handler400, handler403, handler404, handler500
from crm.urls import urlpatterns as site


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom")


urlpatterns = [path("boom/", boom), *site]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
