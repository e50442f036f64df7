"""Landing pages of the department modules, filled with panels that apps register.

An app shows something on another department's landing page without the web app importing
it: `register_panel("sales", "customers.contact_today", render_fn, order=10)`. A panel renders
HTML from selectors that already apply the user's access scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

PanelRenderer = Callable[[HttpRequest], SafeString | str | None]


@dataclass
class Panel:
    key: str
    render: PanelRenderer
    order: int = 100


@dataclass
class ModulePage:
    key: str
    title: str | Promise
    summary: str | Promise
    registered: list[Panel] = field(default_factory=list)

    def panels(self, request: HttpRequest) -> list[Any]:
        rendered = []
        for panel in sorted(self.registered, key=lambda p: p.order):
            html = panel.render(request)
            if html:
                rendered.append(html)
        return rendered


MODULE_PAGES: dict[str, ModulePage] = {
    "customers": ModulePage(
        "customers",
        _("Customers"),
        _("People and organisations, their needs and purchases, and who matters most today."),
    ),
    "sales": ModulePage(
        "sales",
        _("Sales"),
        _("Targets, plans, leads and deals: will we hit the target, and where does the funnel leak?"),
    ),
    "service": ModulePage(
        "service", _("Service"), _("Questions, feedback and consultations: who is waiting, and what comes first?")
    ),
    "marketing": ModulePage(
        "marketing", _("Marketing"), _("Campaigns, audiences and consent: what did each campaign cost and bring?")
    ),
    "collaboration": ModulePage(
        "collaboration",
        _("Collaboration"),
        _("One customer timeline, notes, hand-offs and notifications across departments."),
    ),
    "analytics": ModulePage(
        "analytics", _("Analytics"), _("How the company is doing against its goals, computed from the CRM's own data.")
    ),
    "admin": ModulePage(
        "admin", _("Administration"), _("Users, departments, teams, roles, tokens and the audit trail.")
    ),
}


def register_panel(module: str, key: str, render: PanelRenderer, *, order: int = 100) -> None:
    page = MODULE_PAGES[module]
    page.registered = [p for p in page.registered if p.key != key]
    page.registered.append(Panel(key, render, order))
