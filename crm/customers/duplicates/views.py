"""Pages: the duplicates review queue and the side-by-side comparison with merge and dismiss."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.core.access import field_policy
from crm.core.errors import DomainError
from crm.customers.duplicates import selectors, services
from crm.customers.models import Customer


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    candidates = selectors.list_candidates(request.user).order_by("-score", "-id")
    page = Paginator(candidates, 25).get_page(request.GET.get("page"))
    rows = [{"candidate": c, "reasons": services.describe_reasons(c.reasons)} for c in page.object_list]
    return render(request, "duplicates/queue.html", {"page": page, "rows": rows})


def _display(customer: Customer, name: str) -> Any:
    if name == "owner":
        return customer.owner.username if customer.owner else ""
    getter = getattr(customer, f"get_{name}_display", None)
    value = getter() if callable(getter) and getattr(customer, name) else getattr(customer, name)
    return "" if value is None else value


@login_required
def compare(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = selectors.get_candidate(request.user, candidate_id)
    a, b = candidate.customer_a, candidate.customer_b
    policy = field_policy(request.user, Customer)
    fields = []
    for name in services.MERGE_FIELDS:
        if not policy.can_read(name):
            continue
        left, right = _display(a, name), _display(b, name)
        fields.append(
            {
                "name": name,
                "label": getattr(Customer._meta.get_field(name), "verbose_name", name),
                "a": left,
                "b": right,
                "differs": left != right and left != "" and right != "",
            }
        )
    counts = {
        "a": {"orders": a.orders.count(), "contacts": a.contacts.count(), "needs": a.needs.count()},
        "b": {"orders": b.orders.count(), "contacts": b.contacts.count(), "needs": b.needs.count()},
    }
    return render(
        request,
        "duplicates/compare.html",
        {
            "candidate": candidate,
            "a": a,
            "b": b,
            "fields": fields,
            "counts": counts,
            "reasons": services.describe_reasons(candidate.reasons),
        },
    )


@login_required
@require_POST
def merge(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = selectors.get_candidate(request.user, candidate_id)
    keep = request.POST.get("keep", "a")
    winner, loser = (
        (candidate.customer_a_id, candidate.customer_b_id)
        if keep != "b"
        else (candidate.customer_b_id, candidate.customer_a_id)
    )
    loser_side = "b" if keep != "b" else "a"
    take = [name for name in services.MERGE_FIELDS if request.POST.get(f"field_{name}") == loser_side]
    try:
        services.merge_customers(winner, loser, actor=request.user, take_from_loser=take, candidate=candidate)
    except DomainError as exc:
        messages.error(request, str(exc.detail))
        return redirect("customers:duplicates:compare", candidate_id=candidate.pk)
    messages.success(request, _("Merged: every record and the whole timeline now belong to the kept customer."))
    return redirect("customers:duplicates:queue")


@login_required
@require_POST
def dismiss(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = selectors.get_candidate(request.user, candidate_id)
    try:
        services.dismiss_candidate(candidate, actor=request.user)
        messages.info(request, _("Marked as not a duplicate."))
    except DomainError as exc:
        messages.error(request, str(exc.detail))
    return redirect("customers:duplicates:queue")
