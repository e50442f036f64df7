"""API shapes of the scoring area."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class ReasonOut(Schema):
    code: str
    params: dict[str, Any]
    points: float
    text: str


class ScoreOut(Schema):
    customer_id: int
    scored: bool
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    recency_days: int | None = None
    frequency: int = 0
    monetary: str = "0.00"
    average_order_value: str = "0.00"
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_segment: str = ""
    rfm_segment_label: str = ""
    p_alive: float | None = None
    expected_purchases_12m: float | None = None
    expected_value_12m: str | None = None
    value_tier: str = ""
    open_needs: int = 0
    urgent_needs: int = 0
    open_tickets: int = 0
    priority_score: float = 0
    reasons: list[ReasonOut] = []
    reasons_text: str = ""
    computed_at: datetime | None = None


class ContactTodayOut(Schema):
    customer_id: int
    name: str
    priority_score: float
    rfm_segment: str
    value_tier: str
    reasons_text: str


class RunOut(Schema):
    id: int
    as_of: datetime
    finished_at: datetime | None
    customers: int
    orders: int
    recency_cuts: list[float]
    frequency_cuts: list[float]
    monetary_cuts: list[float]
    bgnbd: dict[str, Any]
    gamma_gamma: dict[str, Any]
    tier_a_min: float
    tier_b_min: float
    timings: dict[str, float]


class AnalyticsOut(Schema):
    total: int
    segments: list[dict[str, Any]]
    tiers: list[dict[str, Any]]
    rfm_grid: list[list[int]]
    values: list[dict[str, Any]]
    top: list[dict[str, Any]]
    run: RunOut | None
