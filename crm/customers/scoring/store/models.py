"""Fitted state of one full recomputation: quintile cut points, model parameters, tier thresholds."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ScoringRun(models.Model):
    """One full recomputation. The latest row is the state incremental updates score against."""

    as_of = models.DateTimeField(help_text="reference time the recency and T values were measured at")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True)
    # Upper bounds of quintiles 1..4 (ascending) of recency days, order count and net spend.
    recency_cuts = models.JSONField(default=list)
    frequency_cuts = models.JSONField(default=list)
    monetary_cuts = models.JSONField(default=list)
    # BG/NBD {r, alpha, a, b, ll, n}; Gamma-Gamma {p, q, gamma, ll, n}; both empty when not fitted.
    bgnbd = models.JSONField(default=dict)
    gamma_gamma = models.JSONField(default=dict)
    # Expected 12-month value thresholds: >= tier_a_min is A, >= tier_b_min is B, else C.
    tier_a_min = models.FloatField(default=0)
    tier_b_min = models.FloatField(default=0)
    # Scale of the value term of the priority score (95th percentile of expected value).
    value_scale = models.FloatField(default=1)
    customers = models.IntegerField(default=0)
    orders = models.BigIntegerField(default=0)
    timings = models.JSONField(default=dict)

    class Meta:
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"scoring run {self.pk} as of {self.as_of:%Y-%m-%d %H:%M}"
