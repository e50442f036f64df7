"""Panels on the Sales, Customers and Analytics landing pages (rendered from access-scoped selectors)."""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from crm.customers.scoring import selectors


def contact_today_panel(request: HttpRequest) -> SafeString | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    rows = selectors.contact_today(user, limit=8)
    items = [(s, selectors.reasons_text(s)) for s in rows]
    return SafeString(render_to_string("scoring/_contact_today_panel.html", {"items": items}, request=request))


def analytics_panel(request: HttpRequest) -> SafeString | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    data = selectors.customer_analytics(user, top=0)
    return SafeString(render_to_string("scoring/_analytics_panel.html", {"data": data}, request=request))


def segments_panel(request: HttpRequest) -> SafeString | None:
    from crm.customers.segments import selectors as segment_selectors

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    segments = list(segment_selectors.segments_for(user).order_by("-updated_at", "-id")[:8])
    return SafeString(render_to_string("segments/_panel.html", {"segments": segments}, request=request))
