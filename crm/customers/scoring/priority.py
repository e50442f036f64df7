"""Priority: one 0–100 score per customer from value, churn risk, open needs and open tickets.

Each term's points are kept, so the top contributors become the written reasons, stored as
codes with parameters (`[{"code": "no_purchase", "params": {"days": 94, "usual_days": 30}, "points": 12.5}]`)
and rendered in the reader's language by `render_reason`.

Other modules contribute counts through `register_open_items(...)` (e.g. service registers its
open tickets) without the customers app importing them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.translation import gettext, ngettext
from numpy.typing import NDArray

from crm.customers.scoring.rows import constant_matrix, number_matrix

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
# Value tiers whose value is named as a reason ("high value" for A, "good value" for B).
VALUE_REASON_TIERS = ("A", "B")

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
    value_tier: NDArray[np.int64]  # codes into tier_labels
    tier_labels: Sequence[str]
    p_alive: Floats
    recency_days: Floats
    usual_gap_days: Floats  # NaN when unknown (fewer than two purchases)
    urgent_needs: Floats
    high_needs: Floats
    open_tickets: Floats


REASON_CODES = ("high_value", "churn_risk", "no_purchase", "urgent_needs", "high_needs", "open_tickets")


def compute_priority(data: PriorityInput) -> tuple[Floats, ReasonsText]:
    """Scores (0..100) and each customer's reasons as JSON text, vectorised over all rows.

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
    # Value counts in every score but is a written reason only in the top tiers: "good value" for a
    # customer in the bottom half (tier C) would be wrong, however close the values lie together.
    named_points = points.copy()
    top_tier = np.array([label in VALUE_REASON_TIERS for label in data.tier_labels], dtype=bool)[data.value_tier]
    named_points[~top_tier, 0] = 0.0
    order = np.argsort(-named_points, axis=1, kind="stable")[:, :MAX_REASONS]
    top_points = np.take_along_axis(named_points, order, axis=1)
    named = top_points >= REASON_MIN_POINTS
    return scores, _reasons_json(data, order, top_points, named, p_alive)


@dataclass
class ReasonsText:
    """Each customer's reasons as JSON text: row i is `matrix[i, :lengths[i]]`, numbers right-aligned
    in space-padded fields (JSON ignores the spaces; `rows.matrix_texts` drops them)."""

    matrix: NDArray[np.uint8]
    lengths: NDArray[np.int64]


def _reasons_json(
    data: PriorityInput, order: NDArray[np.int64], top_points: Floats, named: NDArray[np.bool_], p_alive: Floats
) -> ReasonsText:
    """Build every row's JSON array with whole-column byte copies: one fragment matrix per term
    (for the rows naming it, at any rank), then, per combination of named terms, the fragments
    copied side by side at fixed offsets."""
    n = order.shape[0]
    fragments: dict[int, NDArray[np.uint8]] = {}
    index: dict[int, NDArray[np.int64]] = {}
    for term in range(len(REASON_CODES)):
        hit = named & (order == term)
        rows = np.flatnonzero(hit.any(axis=1))
        if rows.size == 0:
            continue
        rank = hit[rows].argmax(axis=1)
        fragments[term] = _fragment(term, rows, top_points[rows, rank], data, p_alive)
        index[term] = np.full(n, -1, dtype=np.int64)
        index[term][rows] = np.arange(rows.size)
    # A row's combination: its named terms in rank order, as base-(terms + 1) digits.
    base = len(REASON_CODES) + 1
    combination = np.zeros(n, dtype=np.int64)
    for rank in range(MAX_REASONS):
        combination += np.where(named[:, rank], order[:, rank] + 1, 0) * base**rank
    widest = 2 + sum(sorted((f.shape[1] + 1 for f in fragments.values()), reverse=True)[:MAX_REASONS])
    matrix = np.full((n, widest), ord(" "), dtype=np.uint8)
    matrix[:, 0] = ord("[")
    lengths = np.zeros(n, dtype=np.int64)
    if n == 0:
        return ReasonsText(matrix, lengths)
    by_combination = np.argsort(combination, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(combination[by_combination]) != 0])
    for start, end in zip(starts.tolist(), [*starts[1:].tolist(), n], strict=True):
        rows = by_combination[start:end]
        code = int(combination[rows[0]])
        offset = 1
        for rank in range(MAX_REASONS):
            term = code // base**rank % base - 1
            if term < 0:
                break
            if rank:
                matrix[rows, offset] = ord(",")
                offset += 1
            fragment = fragments[term]
            matrix[rows, offset : offset + fragment.shape[1]] = fragment[index[term][rows]]
            offset += fragment.shape[1]
        matrix[rows, offset] = ord("]")
        lengths[rows] = offset + 1
    return ReasonsText(matrix, lengths)


def _fragment(
    term: int, rows: NDArray[np.int64], points: Floats, data: PriorityInput, p_alive: Floats
) -> NDArray[np.uint8]:
    """`{"code":…,"params":{…},"points":…}` for `rows`, one fixed-width byte row each."""
    pieces: list[str | NDArray[np.uint8]] = [f'{{"code":"{REASON_CODES[term]}","params":{{']
    if term == 0:
        tiers = _label_matrix(data.value_tier[rows], data.tier_labels)
        pieces += ['"tier":', tiers, ',"expected_value":', number_matrix(data.expected_value[rows], 2)]
    elif term == 1:
        pieces += ['"p_alive":', number_matrix(np.round(p_alive[rows] * 100), 0)]
    elif term == 2:
        days = number_matrix(np.nan_to_num(data.recency_days[rows]), 0)
        usual = number_matrix(np.round(np.nan_to_num(data.usual_gap_days[rows])), 0)
        pieces += ['"days":', days, ',"usual_days":', usual]
    else:
        counts = {3: data.urgent_needs, 4: data.high_needs}.get(term, data.open_tickets)
        pieces += ['"count":', number_matrix(counts[rows], 0)]
    pieces += ['},"points":', number_matrix(points, 1), "}"]
    return np.hstack([constant_matrix(p, rows.size) if isinstance(p, str) else p for p in pieces])


def _label_matrix(codes: NDArray[np.int64], labels: Sequence[str]) -> NDArray[np.uint8]:
    """JSON string literals of `labels[code]`, left-aligned and space-padded after the closing quote."""
    literals = [json.dumps(str(label)).encode() for label in labels]
    width = max(len(literal) for literal in literals)
    table = np.full((len(literals), width), ord(" "), dtype=np.uint8)
    for i, literal in enumerate(literals):
        table[i, : len(literal)] = np.frombuffer(literal, dtype=np.uint8)
    return table[codes]


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
