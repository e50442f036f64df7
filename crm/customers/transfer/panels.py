"""The import / export / duplicates panel on the Customers landing page."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from crm.core.access import has_verb
from crm.customers.duplicates import selectors as duplicate_selectors
from crm.customers.models import Customer


def transfer_panel(request: HttpRequest) -> SafeString | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    context = {
        "can_import": has_verb(user, "import", Customer),
        "can_export": has_verb(user, "export", Customer),
        "open_duplicates": duplicate_selectors.list_candidates(user).count(),
    }
    return SafeString(render_to_string("transfer/_panel.html", context, request=request))


def register_panels() -> None:
    from crm.web.modules import register_panel

    register_panel("customers", "customers.transfer", transfer_panel, order=50)
