"""Reads of the duplicate queue: pairs where the user may change both customers."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from crm.core.access import visible_to
from crm.core.errors import NotFound
from crm.customers.choices import DuplicateStatus
from crm.customers.models import Customer, DuplicateCandidate


def list_candidates(user: Any, *, status: str = DuplicateStatus.OPEN) -> QuerySet[DuplicateCandidate]:
    changeable = visible_to(user, "change", Customer).filter(is_active=True).values("pk")
    qs = DuplicateCandidate.objects.filter(customer_a__in=changeable, customer_b__in=changeable)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("customer_a", "customer_b", "customer_a__owner", "customer_b__owner")


def get_candidate(user: Any, pk: Any) -> DuplicateCandidate:
    try:
        return list_candidates(user, status="").get(pk=pk)
    except (DuplicateCandidate.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound() from exc
