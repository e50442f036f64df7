"""Reads of the scoring area. Every read starts from the customers the user may see (fail closed)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, DecimalField, F, IntegerField, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from crm.core.access import get_for, visible_to
from crm.customers.choices import RfmSegment, ValueTier
from crm.customers.models import Customer, CustomerScore
from crm.customers.scoring.priority import render_reason, render_reasons
from crm.customers.scoring.store.models import ScoringRun

# Upper bounds of the value-distribution buckets (expected 12-month value, or net spend).
VALUE_BUCKETS: tuple[int, ...] = (100, 500, 1_000, 5_000, 10_000, 50_000)


def visible_scores(user: Any) -> QuerySet[CustomerScore]:
    """Scores of the customers `user` may view; empty when in doubt."""
    customers = visible_to(user, "view", Customer).filter(is_active=True)
    return CustomerScore.objects.filter(customer_id__in=customers.values("pk"))


def get_customer_score(user: Any, customer_id: Any) -> tuple[Customer, CustomerScore | None]:
    """The customer (NotFound when missing or hidden) and its score, if it has been computed."""
    customer = get_for(user, "view", Customer, customer_id)
    return customer, CustomerScore.objects.filter(customer_id=customer.pk).first()


def contact_today(user: Any, *, owner: Any = None, limit: int = 20) -> list[CustomerScore]:
    """The customers `owner` (default: the user) should contact first, highest priority first."""
    owner_id = getattr(owner or user, "pk", None)
    if owner_id is None:
        return []
    return list(
        visible_scores(user)
        .filter(customer__owner_id=owner_id, priority_score__gt=0)
        .select_related("customer")
        .order_by("-priority_score", "customer_id")[:limit]
    )


def reasons_text(score: CustomerScore | None) -> str:
    return render_reasons(score.priority_reasons) if score else ""


def reasons_list(score: CustomerScore | None) -> list[dict[str, Any]]:
    if score is None:
        return []
    return [{**reason, "text": render_reason(reason)} for reason in score.priority_reasons]


@dataclass
class Analytics:
    total: int
    segments: list[dict[str, Any]]
    tiers: list[dict[str, Any]]
    rfm_grid: list[list[int]]  # [r-1][f-1] → count, r and f from 1 to 5
    values: list[dict[str, Any]]
    top: list[CustomerScore]
    run: ScoringRun | None


def customer_analytics(user: Any, *, top: int = 10) -> Analytics:
    """Segment and tier distribution, RFM grid, value distribution and top customers — four GROUP BYs."""
    scores = visible_scores(user)
    money = DecimalField(max_digits=20, decimal_places=2)
    segment_rows: dict[str, dict[str, Any]] = {
        row["rfm_segment"]: dict(row)
        for row in scores.exclude(rfm_segment="")
        .values("rfm_segment")
        .annotate(count=Count("pk"), monetary=Coalesce(Sum("monetary"), Value(Decimal(0)), output_field=money))
    }
    segments = [
        {
            "code": str(choice.value),
            "label": str(choice.label),
            "count": segment_rows.get(choice.value, {}).get("count", 0),
            "monetary": str(segment_rows.get(choice.value, {}).get("monetary", Decimal("0.00"))),
        }
        for choice in RfmSegment
    ]
    tier_rows: dict[str, dict[str, Any]] = {
        row["value_tier"]: dict(row)
        for row in scores.exclude(value_tier="")
        .values("value_tier")
        .annotate(
            count=Count("pk"),
            value=Coalesce(Sum(Coalesce("expected_value_12m", "monetary")), Value(Decimal(0)), output_field=money),
        )
    }
    tiers = [
        {
            "code": str(choice.value),
            "label": str(choice.label),
            "count": tier_rows.get(choice.value, {}).get("count", 0),
            "value": str(tier_rows.get(choice.value, {}).get("value", Decimal("0.00"))),
        }
        for choice in ValueTier
    ]
    grid = [[0] * 5 for _ in range(5)]
    for row in (
        scores.filter(r_score__isnull=False, f_score__isnull=False).values("r_score", "f_score").annotate(n=Count("pk"))
    ):
        r_score, f_score = row["r_score"], row["f_score"]
        if r_score and f_score:
            grid[int(r_score) - 1][int(f_score) - 1] = int(row["n"])
    bucket = Case(
        *[When(basis__lt=Decimal(limit), then=Value(i)) for i, limit in enumerate(VALUE_BUCKETS)],
        default=Value(len(VALUE_BUCKETS)),
        output_field=IntegerField(),
    )
    counts = {
        row["bucket"]: row["n"]
        for row in scores.exclude(frequency=0)
        .annotate(basis=Coalesce(F("expected_value_12m"), F("monetary")))
        .annotate(bucket=bucket)
        .values("bucket")
        .annotate(n=Count("pk"))
    }
    values = []
    lower = 0
    for i, limit in enumerate((*VALUE_BUCKETS, None)):
        label = f"{lower:,}–{limit:,}" if limit is not None else f"≥ {lower:,}"
        values.append({"bucket": label, "count": counts.get(i, 0)})
        lower = limit or lower
    top_rows = list(
        scores.exclude(frequency=0)
        .select_related("customer")
        .order_by(F("expected_value_12m").desc(nulls_last=True), "-monetary", "customer_id")[:top]
    )
    total = sum(s["count"] for s in segments)
    run = ScoringRun.objects.filter(finished_at__isnull=False).order_by("-id").first()
    return Analytics(total=total, segments=segments, tiers=tiers, rfm_grid=grid, values=values, top=top_rows, run=run)


def segment_label(code: str) -> str:
    return str(RfmSegment(code).label) if code in RfmSegment.values else (code or _("not scored"))


def latest_run() -> ScoringRun | None:
    return ScoringRun.objects.filter(finished_at__isnull=False).order_by("-id").first()
