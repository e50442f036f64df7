"""RFM on a small dataset computed by hand (see the table in each test), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.utils import translation

from crm.customers.choices import NeedLevel, OrderStatus
from crm.customers.models import CustomerScore
from crm.customers.scoring import compute, priority, rfm
from crm.customers.scoring.priority import render_reasons
from crm.customers.scoring.tests.factories import make_customer, make_need, make_order

AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
# customer k has k paid orders of 10.00 × k each, 10 days apart, the last `RECENCY[k]` days before AS_OF.
RECENCY = {1: 5, 2: 95, 3: 45, 4: 15, 5: 55, 6: 35, 7: 65, 8: 25, 9: 85, 10: 75}
EXPECTED = {
    # k: (R, F, M, segment)
    1: (5, 1, 1, "new"),
    2: (1, 1, 1, "lost"),
    3: (3, 2, 2, "about_to_sleep"),
    4: (5, 2, 2, "potential_loyalists"),
    5: (3, 3, 3, "need_attention"),
    6: (4, 3, 3, "potential_loyalists"),
    7: (2, 4, 4, "at_risk"),
    8: (4, 4, 4, "loyal"),
    9: (1, 5, 5, "cant_lose"),
    10: (2, 5, 5, "cant_lose"),
}


@pytest.fixture
def shop(db: Any) -> dict[int, Any]:
    customers = {}
    for k, days in RECENCY.items():
        customer = make_customer(name=f"客户{k}")
        customers[k] = customer
        for i in range(k):
            at = AS_OF - timedelta(days=days + 10 * i, hours=1)
            if k == 4 and i == 0:
                make_order(
                    customer=customer, at=at, total="40.00", refunded="15.00", status=OrderStatus.PARTIALLY_REFUNDED
                )
            else:
                make_order(customer=customer, at=at, total=f"{10 * k}.00")
    # Orders that must not count: fully refunded, cancelled, and after the reference time.
    make_order(
        customer=customers[3],
        at=AS_OF - timedelta(days=2),
        total="500.00",
        refunded="500.00",
        status=OrderStatus.REFUNDED,
    )
    make_order(customer=customers[5], at=AS_OF - timedelta(days=2), total="999.00", status=OrderStatus.CANCELLED)
    make_order(customer=customers[1], at=AS_OF + timedelta(days=1), total="777.00")
    return customers


def test_rfm_scores_and_segments_match_the_hand_computed_table(shop: dict[int, Any]) -> None:
    # given the shop above; when
    run = compute.recompute_full(as_of=AS_OF)
    # then quintile cut points are the NTILE(5) maxima of tiles 1..4
    assert run.recency_cuts == [15, 35, 55, 75]
    assert run.frequency_cuts == [2, 4, 6, 8]
    assert run.monetary_cuts == [40, 145, 360, 640]
    for k, (r, f, m, segment) in EXPECTED.items():
        score = CustomerScore.objects.get(customer=shop[k])
        assert (score.r_score, score.f_score, score.m_score, score.rfm_segment) == (r, f, m, segment), k
        assert score.recency_days == RECENCY[k]
        assert score.frequency == k


def test_monetary_is_net_of_refunds_and_ignores_refunded_and_cancelled_orders(shop: dict[int, Any]) -> None:
    compute.recompute_full(as_of=AS_OF)
    four = CustomerScore.objects.get(customer=shop[4])
    assert four.monetary == Decimal("145.00")  # 3 × 40 + (40 − 15)
    assert four.average_order_value == Decimal("36.25")
    three = CustomerScore.objects.get(customer=shop[3])
    assert (three.frequency, three.monetary) == (3, Decimal("90.00"))
    five = CustomerScore.objects.get(customer=shop[5])
    assert (five.frequency, five.monetary) == (5, Decimal("250.00"))
    one = CustomerScore.objects.get(customer=shop[1])
    assert (one.frequency, one.monetary, one.recency_days) == (1, Decimal("10.00"), 5)
    assert one.last_order_at == AS_OF - timedelta(days=5, hours=1)


def test_value_tiers_split_top_20_and_next_30_percent(shop: dict[int, Any]) -> None:
    # given too few customers to fit the value models, the tier falls back to net spend
    compute.recompute_full(as_of=AS_OF)
    tiers = {k: CustomerScore.objects.get(customer=shop[k]).value_tier for k in shop}
    assert [k for k, t in tiers.items() if t == "A"] == [9, 10]
    assert [k for k, t in tiers.items() if t == "B"] == [6, 7, 8]


def test_priority_reasons_name_value_lapse_and_urgent_need(shop: dict[int, Any]) -> None:
    # given customer 9 (bought every 10 days, silent for 85) has an urgent need, and a customer
    # without orders has one too
    make_need(customer=shop[9], level=NeedLevel.URGENT)
    newcomer = make_customer(name="新客户")
    make_need(customer=newcomer, level=NeedLevel.URGENT)
    make_need(customer=newcomer, level=NeedLevel.LOW)
    # when
    compute.recompute_full(as_of=AS_OF)
    # then
    nine = CustomerScore.objects.get(customer=shop[9])
    assert [r["code"] for r in nine.priority_reasons] == ["high_value", "no_purchase", "urgent_needs"]
    assert nine.priority_reasons[1]["params"] == {"days": 85, "usual_days": 10}
    with translation.override("en"):
        text = render_reasons(nine.priority_reasons)
    assert text == "high value, no purchase in 85 days (usually every 10), urgent need open"
    fresh = CustomerScore.objects.get(customer=newcomer)
    assert (fresh.open_needs, fresh.urgent_needs, fresh.priority_score) == (2, 1, 12.0)
    assert fresh.rfm_segment == ""
    assert fresh.frequency == 0
    ranked = list(CustomerScore.objects.order_by("-priority_score").values_list("customer_id", flat=True)[:1])
    assert ranked == [shop[9].pk]


def test_reasons_render_in_chinese(shop: dict[int, Any]) -> None:
    make_need(customer=shop[9], level=NeedLevel.URGENT)
    compute.recompute_full(as_of=AS_OF)
    nine = CustomerScore.objects.get(customer=shop[9])
    with translation.override("zh-hans"):
        text = render_reasons(nine.priority_reasons)
    assert "85" in text
    assert "高价值" in text
    assert "紧急需求" in text


def test_segment_grid_names_all_25_cells_and_every_segment() -> None:
    names = {rfm.segment_for(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert len(names) == 11
    assert rfm.segment_for(5, 5) == "champions"
    assert rfm.segment_for(1, 5) == "cant_lose"
    assert rfm.segment_for(5, 1) == "new"
    assert rfm.segment_for(1, 1) == "lost"


def test_incremental_equals_full_for_the_touched_customers(shop: dict[int, Any]) -> None:
    # given a full run, then new orders for two customers and a new need for a third
    compute.recompute_full(as_of=AS_OF)
    later = AS_OF + timedelta(days=3)
    make_order(customer=shop[2], at=later - timedelta(hours=2), total="300.00")
    make_order(customer=shop[7], at=later - timedelta(days=1), total="70.00")
    make_need(customer=shop[5], level=NeedLevel.HIGH)
    touched = [shop[2].pk, shop[7].pk, shop[5].pk]
    # when scored incrementally, and separately by a full run that keeps the stored state
    compute.recompute_customers(touched, as_of=later)
    incremental = {s.customer_id: _fields(s) for s in CustomerScore.objects.filter(customer_id__in=touched)}
    compute.recompute_full(as_of=later, refit=False)
    full = {s.customer_id: _fields(s) for s in CustomerScore.objects.filter(customer_id__in=touched)}
    # then
    assert incremental == full
    two = CustomerScore.objects.get(customer=shop[2])
    assert (two.frequency, two.recency_days, two.r_score) == (3, 0, 5)


def _fields(score: CustomerScore) -> tuple[Any, ...]:
    return (
        score.recency_days,
        score.frequency,
        score.monetary,
        score.r_score,
        score.f_score,
        score.m_score,
        score.rfm_segment,
        score.value_tier,
        score.open_needs,
        score.priority_score,
        score.priority_reasons,
    )


def test_a_customer_whose_only_order_is_refunded_loses_the_score(shop: dict[int, Any]) -> None:
    compute.recompute_full(as_of=AS_OF)
    order = shop[1].orders.filter(ordered_at__lte=AS_OF).get()
    order.status = OrderStatus.REFUNDED
    order.refunded_amount = order.total_amount
    order.save()
    compute.recompute_customers([shop[1].pk], as_of=AS_OF)
    assert not CustomerScore.objects.filter(customer=shop[1]).exists()


def test_numpy_ntile_cut_points_equal_sql_ntile(shop: dict[int, Any]) -> None:
    # given extra customers so tiles are uneven (n mod 5 != 0) and values tie
    for i in range(13):
        customer = make_customer(name=f"并列{i}")
        for _ in range(1 + i % 3):
            make_order(customer=customer, at=AS_OF - timedelta(days=7 * (i % 4)), total=f"{20 * (i % 5) + 10}.00")
    from django.db import transaction

    with transaction.atomic():
        compute.aggregate_all_into_temp(AS_OF)
        sql = compute.quintile_cuts(AS_OF)
        transaction.set_rollback(True)
    agg = compute.aggregate_all(AS_OF)
    days = np.floor((AS_OF.timestamp() - agg.last_epoch) / compute.DAY)
    assert agg.customer_id.size == 23
    assert sql == (compute.ntile_cuts(days), compute.ntile_cuts(agg.orders), compute.ntile_cuts(agg.monetary))


def test_template_filters_render_stored_reasons(shop: dict[int, Any]) -> None:
    from django.template import Context, Template

    make_need(customer=shop[9], level=NeedLevel.URGENT)
    compute.recompute_full(as_of=AS_OF)
    score = CustomerScore.objects.get(customer=shop[9])
    template = Template(
        "{% load scoring %}{% for r in s.priority_reasons %}[{{ r|reason_text }}]{% endfor %}|{{ s|reasons_text }}"
        "|{{ s.rfm_segment|rfm_segment_label }}"
    )
    with translation.override("en"):
        html = template.render(Context({"s": score}))
    assert html.startswith("[high value][no purchase in 85 days (usually every 10)][urgent need open]|high value, ")
    assert html.endswith("|can&#x27;t lose them")


def test_value_is_a_reason_only_for_tiers_a_and_b() -> None:
    # given three customers whose values are close together: the lowest is still tier C, yet its
    # value brings enough points to be named (half of the 95th-percentile value)
    data = priority.PriorityInput(
        has_orders=np.array([True, True, True]),
        expected_value=np.array([100.0, 80.0, 50.0]),
        value_scale=100.0,
        value_tier=np.array([1, 2, 3]),
        tier_labels=("", "A", "B", "C"),
        p_alive=np.array([1.0, 1.0, 0.2]),
        recency_days=np.array([1.0, 1.0, 1.0]),
        usual_gap_days=np.array([np.nan, np.nan, np.nan]),
        urgent_needs=np.zeros(3),
        high_needs=np.zeros(3),
        open_tickets=np.zeros(3),
    )
    # when priorities are computed
    scores, reasons = priority.compute_priority(data)
    texts = [json.loads(bytes(reasons.matrix[i, : reasons.lengths[i]])) for i in range(3)]
    # then A and B are named for their value, C is not (its value still counts in the score)
    assert [r["code"] for r in texts[0]] == ["high_value"]
    assert [r["code"] for r in texts[1]] == ["high_value"]
    assert [r["code"] for r in texts[2]] == ["churn_risk"]
    assert scores[2] > priority.RISK_POINTS * 0.8 * (0.3 + 0.7 * 0.5)
