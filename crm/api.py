"""The REST API under /api/v1: one NinjaAPI; each app contributes routers from its api.py."""

from __future__ import annotations

from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule

from crm.core.api import make_api

api = make_api(
    title="CRM API",
    version="1",
    description=(
        "REST API of the CRM. Authenticate with `Authorization: Bearer <token>` "
        "(`crm token create USERNAME`, or POST /api/v1/auth/token) or with the browser session "
        "plus the `X-CSRFToken` header. Errors are `application/problem+json`. Lists use cursor "
        "pagination (`cursor`, `limit`; follow `next_cursor`). POST honours `Idempotency-Key`; "
        "PATCH needs the record's `version` (in the body or as `If-Match`)."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _api_modules() -> list[str]:
    """Each crm app's `api` module, or the modules its AppConfig lists in `api_modules`."""
    names: list[str] = []
    for config in apps.get_app_configs():
        if not config.name.startswith("crm."):
            continue
        listed = getattr(config, "api_modules", None)
        if listed:
            names.extend(listed)
        elif module_has_submodule(config.module, "api"):
            names.append(f"{config.name}.api")
    return names


def _mount_app_routers() -> None:
    for name in _api_modules():
        package, _, leaf = name.rpartition(".")
        if not module_has_submodule(import_module(package), leaf):
            continue  # listed but not written yet
        module = import_module(name)
        for prefix, router in getattr(module, "ROUTERS", []):
            api.add_router(prefix, router)


_mount_app_routers()
