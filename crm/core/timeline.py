"""The customer timeline: every module appends what happened to a customer here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from crm.core.models import TimelineEvent


def record_event(
    *,
    customer_id: int,
    kind: str,
    actor: Any,
    subject: str,
    payload: Mapping[str, Any] | None = None,
    obj: models.Model | None = None,
    occurred_at: Any = None,
) -> TimelineEvent:
    """Append one event to a customer's timeline, inside the caller's transaction.

    `kind` is dotted, module first: "customer.created", "order.paid", "ticket.opened".
    `subject` is a short human sentence; `payload` holds what a page needs to render details.
    Never put personal data (e-mail, phone) in `subject` or `payload`.
    """
    return TimelineEvent.objects.create(
        customer_id=customer_id,
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        subject=subject[:255],
        payload=dict(payload or {}),
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        occurred_at=occurred_at or timezone.now(),
    )
