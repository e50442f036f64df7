"""Priority: one 0–100 score per customer from value, churn risk, open needs and open tickets.

Each term's points are kept, so the top contributors become the written reasons, stored as
codes with parameters (`[{"code": "no_purchase", "params": {"days": 94, "usual_days": 30}, "points": 12.5}]`)
and rendered in the reader's language by `render_reason`.

Other modules contribute counts through `register_open_items(...)` (e.g. service registers its
open tickets) without the customers app importing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.translation import gettext, ngettext
from numpy.typing import NDArray

from crm.customers.scoring.rows import TEXT, fixed_text, int_text

Floats = NDArray[np.float64]

# Maximum points per term (they sum to more than 100; the total is capped at 100).
VALUE_POINTS = 35.0
RISK_POINTS = 25.0
OVERDUE_POINTS = 15.0
URGENT_NEED_POINTS = 12.0
HIGH_NEED_POINTS = 6.0
NEED_POINTS_CAP = 20.0
TICKET_POINTS = 5.0
TICKET_POINTS_CAP = 15.0
# A term must bring at least this many points to be named as a reason; at most three are named.
REASON_MIN_POINTS = 3.0
MAX_REASONS = 3

OpenItemsCounter = Callable[[Sequence[int] | None], dict[int, int]]


@dataclass(frozen=True)
class OpenItemsSource:
    key: str
    count: OpenItemsCounter


_open_items: dict[str, OpenItemsSource] = {}


def register_open_items(key: str, count: OpenItemsCounter) -> None:
    """Let another module add open items (e.g. key "tickets") to the priority of customers.

    `count(customer_ids)` returns {customer_id: number of open items}; `None` means all customers.
    """
    _open_items[key] = OpenItemsSource(key, count)


def count_open_items(key: str, customer_ids: Sequence[int] | None) -> dict[int, int]:
    source = _open_items.get(key)
    return source.count(customer_ids) if source else {}


@dataclass
class PriorityInput:
    has_orders: NDArray[np.bool_]
    expected_value: Floats
    value_scale: float
    value_tier: Sequence[str]
    p_alive: Floats
    recency_days: Floats
    usual_gap_days: Floats  # NaN when unknown (fewer than two purchases)
    urgent_needs: Floats
    high_needs: Floats
    open_tickets: Floats


REASON_CODES = ("high_value", "churn_risk", "no_purchase", "urgent_needs", "high_needs", "open_tickets")


def compute_priority(data: PriorityInput) -> tuple[Floats, NDArray[Any]]:
    """Scores (0..100) and each customer's reasons as a JSON text, vectorised over all rows.

    Reasons are the terms bringing the most points (at least REASON_MIN_POINTS, at most
    MAX_REASONS), e.g. `[{"code":"no_purchase","params":{"days":94,"usual_days":30},"points":12.5}]`.
    """
    scale = data.value_scale if data.value_scale > 0 else 1.0
    value_norm = np.where(data.has_orders, np.clip(np.nan_to_num(data.expected_value) / scale, 0, 1), 0.0)
    value_pts = VALUE_POINTS * value_norm
    p_alive = np.nan_to_num(data.p_alive, nan=1.0)
    risk = np.where(data.has_orders, 1.0 - p_alive, 0.0)
    risk_pts = RISK_POINTS * risk * (0.3 + 0.7 * value_norm)
    with np.errstate(divide="ignore", invalid="ignore"):
        overdue = np.where(
            data.has_orders & (data.usual_gap_days > 0),
            np.clip((data.recency_days / data.usual_gap_days - 1.0) / 2.0, 0, 1),
            0.0,
        )
    overdue_pts = OVERDUE_POINTS * np.nan_to_num(overdue)
    urgent_pts = URGENT_NEED_POINTS * data.urgent_needs
    high_pts = HIGH_NEED_POINTS * data.high_needs
    need_total = urgent_pts + high_pts
    shrink = np.where(need_total > NEED_POINTS_CAP, NEED_POINTS_CAP / np.maximum(need_total, 1e-9), 1.0)
    urgent_pts = urgent_pts * shrink
    high_pts = high_pts * shrink
    ticket_pts = np.minimum(TICKET_POINTS * data.open_tickets, TICKET_POINTS_CAP)

    points = np.column_stack([value_pts, risk_pts, overdue_pts, urgent_pts, high_pts, ticket_pts])
    scores: Floats = np.round(np.minimum(points.sum(axis=1), 100.0), 2)
    order = np.argsort(-points, axis=1, kind="stable")[:, :MAX_REASONS]
    top_points = np.take_along_axis(points, order, axis=1)
    named = top_points >= REASON_MIN_POINTS
    return scores, _reasons_json(data, order, top_points, named, p_alive)


def _reasons_json(
    data: PriorityInput, order: NDArray[np.int64], top_points: Floats, named: NDArray[np.bool_], p_alive: Floats
) -> NDArray[Any]:
    n = order.shape[0]
    result = np.full(n, "[", dtype=TEXT)
    for rank in range(MAX_REASONS):
        for term, code in enumerate(REASON_CODES):
            rows = np.flatnonzero(named[:, rank] & (order[:, rank] == term))
            if rows.size == 0:
                continue
            fragment = np.strings.add(f'{{"code":"{code}","params":{{', _params_json(term, rows, data, p_alive))
            fragment = np.strings.add(np.strings.add(fragment, '},"points":'), fixed_text(top_points[rows, rank], 1))
            fragment = np.strings.add(fragment, "}")
            if rank:
                fragment = np.strings.add(",", fragment)
            result[rows] = np.strings.add(result[rows], fragment)
    return np.strings.add(result, "]")


def _params_json(term: int, rows: NDArray[np.int64], data: PriorityInput, p_alive: Floats) -> NDArray[Any]:
    def join(*parts: Any) -> NDArray[Any]:
        text = np.asarray(parts[0]).astype(TEXT) if not isinstance(parts[0], str) else parts[0]
        for part in parts[1:]:
            text = np.strings.add(text, part)
        return np.broadcast_to(text, rows.shape).astype(TEXT)

    if term == 0:
        tiers = np.asarray(data.value_tier, dtype=object)[rows].astype(TEXT)
        return join('"tier":"', tiers, '","expected_value":', fixed_text(data.expected_value[rows], 2))
    if term == 1:
        return join('"p_alive":', int_text(np.round(p_alive[rows] * 100)))
    if term == 2:
        return join(
            '"days":',
            int_text(np.nan_to_num(data.recency_days[rows])),
            ',"usual_days":',
            int_text(np.round(np.nan_to_num(data.usual_gap_days[rows]))),
        )
    counts = {3: data.urgent_needs, 4: data.high_needs}.get(term, data.open_tickets)
    return join('"count":', int_text(counts[rows]))


def render_reason(reason: dict[str, Any]) -> str:
    """One reason in the active language, e.g. "no purchase in 94 days (usually every 30)"."""
    code = reason.get("code")
    params = reason.get("params") or {}
    if code == "high_value":
        if params.get("tier") == "A":
            return gettext("high value")
        return gettext("good value")
    if code == "churn_risk":
        return gettext("may be slipping away (%(p)s%% likely still active)") % {"p": params.get("p_alive", 0)}
    if code == "no_purchase":
        days = int(params.get("days", 0))
        return ngettext(
            "no purchase in %(days)s day (usually every %(usual)s)",
            "no purchase in %(days)s days (usually every %(usual)s)",
            days,
        ) % {"days": days, "usual": params.get("usual_days", 0)}
    if code == "urgent_needs":
        count = int(params.get("count", 0))
        if count == 1:
            return gettext("urgent need open")
        return gettext("%(count)s urgent needs open") % {"count": count}
    if code == "high_needs":
        count = int(params.get("count", 0))
        if count == 1:
            return gettext("high-priority need open")
        return gettext("%(count)s high-priority needs open") % {"count": count}
    if code == "open_tickets":
        count = int(params.get("count", 0))
        return ngettext("%(count)s open ticket", "%(count)s open tickets", count) % {"count": count}
    return str(code)


def render_reasons(reasons: Iterable[dict[str, Any]]) -> str:
    """All reasons joined as one phrase: "high value, no purchase in 94 days, urgent need open"."""
    return gettext(", ").join(render_reason(r) for r in reasons)
