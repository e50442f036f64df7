"""Pages of the scoring area: customer analytics and "who to contact today"."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from crm.customers.scoring import api, selectors
from crm.identity.models import User


def _analytics_context(request: HttpRequest) -> dict[str, Any]:
    data = selectors.customer_analytics(request.user, top=10)
    chart = {
        "segments": [{"name": s["label"], "value": s["count"]} for s in data.segments],
        "tiers": [{"name": t["label"], "value": t["count"]} for t in data.tiers],
        "grid": [[f - 1, r - 1, data.rfm_grid[r - 1][f - 1]] for r in range(1, 6) for f in range(1, 6)],
        "values": {"labels": [v["bucket"] for v in data.values], "counts": [v["count"] for v in data.values]},
    }
    grid_rows = [(r, data.rfm_grid[r - 1]) for r in range(5, 0, -1)]
    top = [(s, selectors.segment_label(s.rfm_segment)) for s in data.top]
    return {"data": data, "chart": chart, "grid_rows": grid_rows, "top": top}


@login_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    return render(request, "scoring/analytics.html", _analytics_context(request))


@login_required
def analytics_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(api.analytics(request, top=10), json_dumps_params={"ensure_ascii": False})  # type: ignore[arg-type]


@login_required
def contact_today_page(request: HttpRequest) -> HttpResponse:
    owner: Any = request.user
    owner_id = request.GET.get("owner", "")
    if owner_id.isdigit():
        owner = User.objects.filter(pk=int(owner_id), is_active=True).first() or request.user
    rows = selectors.contact_today(request.user, owner=owner, limit=50)
    items = [(s, selectors.reasons_text(s), selectors.segment_label(s.rfm_segment)) for s in rows]
    return render(request, "scoring/contact_today.html", {"items": items, "owner": owner})
