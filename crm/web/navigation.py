"""The main navigation: one entry per department module, in the order users expect."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str | Promise
    url_name: str
    icon: str
    admin_only: bool = False


NAV_ITEMS: list[NavItem] = [
    NavItem("home", _("Home"), "web:home", "⌂"),
    NavItem("customers", _("Customers"), "web:module-customers", "◉"),
    NavItem("sales", _("Sales"), "web:module-sales", "↗"),
    NavItem("service", _("Service"), "web:module-service", "☎"),
    NavItem("marketing", _("Marketing"), "web:module-marketing", "✉"),
    NavItem("collaboration", _("Collaboration"), "web:module-collaboration", "⇄"),
    NavItem("analytics", _("Analytics"), "web:module-analytics", "▤"),
    NavItem("admin", _("Administration"), "web:module-admin", "⚙", admin_only=True),
]


def override_url(key: str, url_name: str) -> None:
    """Let an app point a navigation entry at its own page once it has one."""
    for index, item in enumerate(NAV_ITEMS):
        if item.key == key:
            NAV_ITEMS[index] = NavItem(item.key, item.label, url_name, item.icon, item.admin_only)
