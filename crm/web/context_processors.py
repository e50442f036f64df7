"""Template context every page needs: the navigation and the active section."""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from crm.web.navigation import NAV_ITEMS


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for item in NAV_ITEMS:
        if item.admin_only and not (
            user.is_superuser or getattr(getattr(user, "role", None), "code", "") == "administrator"
        ):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if item.key == "home" else request.path.startswith(url)
        items.append({"key": item.key, "label": item.label, "url": url, "icon": item.icon, "active": active})
    return {"nav_items": items}
