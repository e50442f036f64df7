"""The value models' inputs per customer, checked against an independent reference written here.

The reference follows the published definitions and `lifetimes.utils.summary_data_from_transaction_data`
with freq="D" (then in weeks): a transaction is a purchase *day* (a customer's orders on one calendar
day in TIME_ZONE, their spend summed); x = purchase days − 1; t_x = last − first purchase day;
T = reference day − first purchase day; Gamma-Gamma's m = mean spend of the repeat days (the first
day left out; 0 without any). Predictions use the papers' formulas in their textbook form:
Fader, Hardie & Lee (2005) eqs. (10) and (12), and Fader & Hardie (2013) eq. (5).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.test import override_settings
from scipy import special

from crm.customers.choices import OrderStatus
from crm.customers.models import Customer, CustomerScore
from crm.customers.scoring import compute, value_models
from crm.customers.scoring.store.models import ScoringRun
from crm.customers.scoring.tests.factories import make_customer, make_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)  # 20:00 on 30 June in Shanghai
COUNTED = {OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED}
# (customer, UTC time, total, refunded, status)
ORDERS: list[tuple[str, datetime, str, str, str]] = [
    # "same-day": 5 Jan in Shanghai twice (4 Jan 17:00 UTC is 01:00 on the 5th there), a refunded
    # part on 10 Feb plus a second order that day, then 23:59 on 1 Mar and 00:01 on 2 Mar, which
    # are the same UTC day but two days in Shanghai.
    ("same-day", datetime(2026, 1, 4, 17, 0, tzinfo=UTC), "30.00", "0", OrderStatus.PAID),
    ("same-day", datetime(2026, 1, 5, 1, 0, tzinfo=UTC), "100.00", "0", OrderStatus.PAID),
    ("same-day", datetime(2026, 2, 10, 3, 0, tzinfo=UTC), "80.00", "30.00", OrderStatus.PARTIALLY_REFUNDED),
    ("same-day", datetime(2026, 2, 10, 6, 0, tzinfo=UTC), "20.00", "0", OrderStatus.PAID),
    ("same-day", datetime(2026, 3, 1, 15, 59, tzinfo=UTC), "40.00", "0", OrderStatus.PAID),
    ("same-day", datetime(2026, 3, 1, 16, 1, tzinfo=UTC), "60.00", "0", OrderStatus.PAID),
    ("same-day", datetime(2026, 4, 1, 2, 0, tzinfo=UTC), "500.00", "500.00", OrderStatus.REFUNDED),
    ("same-day", datetime(2026, 4, 2, 2, 0, tzinfo=UTC), "900.00", "0", OrderStatus.CANCELLED),
    # "once": a single order
    ("once", datetime(2026, 5, 20, 8, 0, tzinfo=UTC), "45.50", "0", OrderStatus.PAID),
    # "one-day": three orders on one day in Shanghai, nothing else (no repeat purchase)
    ("one-day", datetime(2026, 3, 9, 16, 30, tzinfo=UTC), "10.00", "0", OrderStatus.PAID),
    ("one-day", datetime(2026, 3, 10, 2, 0, tzinfo=UTC), "20.00", "5.00", OrderStatus.PARTIALLY_REFUNDED),
    ("one-day", datetime(2026, 3, 10, 15, 0, tzinfo=UTC), "30.00", "0", OrderStatus.PAID),
    # "regular": four days, the first one expensive (left out of Gamma-Gamma's mean)
    ("regular", datetime(2025, 11, 3, 4, 0, tzinfo=UTC), "400.00", "0", OrderStatus.PAID),
    ("regular", datetime(2026, 1, 20, 4, 0, tzinfo=UTC), "60.00", "0", OrderStatus.PAID),
    ("regular", datetime(2026, 4, 14, 4, 0, tzinfo=UTC), "90.00", "0", OrderStatus.PAID),
    ("regular", datetime(2026, 6, 29, 23, 0, tzinfo=UTC), "30.00", "0", OrderStatus.PAID),
    # "late": an order earlier on the reference day counts; one after the reference time does not
    ("late", datetime(2026, 6, 12, 4, 0, tzinfo=UTC), "70.00", "0", OrderStatus.PAID),
    ("late", datetime(2026, 6, 30, 3, 0, tzinfo=UTC), "25.00", "0", OrderStatus.PAID),
    ("late", datetime(2026, 6, 30, 13, 0, tzinfo=UTC), "999.00", "0", OrderStatus.PAID),
    # "refunded-only": nothing counted
    ("refunded-only", datetime(2026, 2, 1, 4, 0, tzinfo=UTC), "50.00", "50.00", OrderStatus.REFUNDED),
]
CDNOW_BGNBD = value_models.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
CDNOW_GG = value_models.GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


def reference_inputs(orders: list[tuple[str, datetime, str, str, str]], as_of: datetime) -> dict[str, dict[str, float]]:
    """Per customer: lifetimes' frequency, recency and T (freq="D", in weeks) and monetary_value."""
    days: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for name, at, total, refunded, status in orders:
        if status in COUNTED and at <= as_of:
            days[name][at.astimezone(SHANGHAI).date()] += Decimal(total) - Decimal(refunded)
    as_of_day = as_of.astimezone(SHANGHAI).date()
    result = {}
    for name, spend in days.items():
        dates = sorted(spend)
        repeat = [spend[d] for d in dates[1:]]
        result[name] = {
            "x": len(dates) - 1,
            "t_x": (dates[-1] - dates[0]).days / 7,
            "T": (as_of_day - dates[0]).days / 7,
            "m": float(sum(repeat) / len(repeat)) if repeat else 0.0,
        }
    return result


def reference_predictions(inputs: dict[str, float]) -> tuple[float, float, float]:
    """P(alive), E[Y(52)] and E[M] from the papers' formulas, with the CDNOW estimates."""
    r, alpha, a, b = CDNOW_BGNBD.r, CDNOW_BGNBD.alpha, CDNOW_BGNBD.a, CDNOW_BGNBD.b
    x, t_x, T, t = inputs["x"], inputs["t_x"], inputs["T"], 52.0
    odds = a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x) if x > 0 else 0.0
    p_alive = 1 / (1 + odds)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    purchases = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp) / (1 + odds)
    p, q, gamma = CDNOW_GG.p, CDNOW_GG.q, CDNOW_GG.gamma
    spend = (q - 1) / (p * x + q - 1) * gamma * p / (q - 1) + p * x / (p * x + q - 1) * inputs["m"]
    return p_alive, purchases, spend


@pytest.fixture
def shop(db: Any) -> dict[str, Customer]:
    customers = {name: make_customer(name=name) for name in dict.fromkeys(o[0] for o in ORDERS)}
    for name, at, total, refunded, status in ORDERS:
        make_order(customer=customers[name], at=at, total=total, refunded=refunded, status=status)
    return customers


def _inputs_by_name(agg: compute.Aggregates, shop: dict[str, Customer]) -> dict[str, dict[str, float]]:
    x, t_x, T, m = compute._model_inputs(agg, AS_OF)
    names = {c.pk: name for name, c in shop.items()}
    return {
        names[int(cid)]: {"x": float(x[i]), "t_x": float(t_x[i]), "T": float(T[i]), "m": float(m[i])}
        for i, cid in enumerate(agg.customer_id)
    }


def test_the_reference_itself_counts_purchase_days() -> None:
    # given / when
    ref = reference_inputs(ORDERS, AS_OF)
    # then (worked by hand): 5 Jan 130, 10 Feb 50 + 20, 1 Mar 40, 2 Mar 60
    assert ref["same-day"] == {"x": 3, "t_x": 56 / 7, "T": 176 / 7, "m": pytest.approx(170 / 3)}
    assert ref["once"] == {"x": 0, "t_x": 0.0, "T": 41 / 7, "m": 0.0}
    assert ref["one-day"] == {"x": 0, "t_x": 0.0, "T": 112 / 7, "m": 0.0}
    assert ref["regular"] == {"x": 3, "t_x": 239 / 7, "T": 239 / 7, "m": 60.0}
    assert ref["late"] == {"x": 1, "t_x": 18 / 7, "T": 18 / 7, "m": 25.0}
    assert "refunded-only" not in ref


def test_model_inputs_are_the_lifetimes_definitions_per_customer(shop: dict[str, Customer]) -> None:
    # given the hand-made orders; when aggregated by the full run's path
    ours = _inputs_by_name(compute.aggregate_all(AS_OF), shop)
    # then every customer's x, t_x, T and m equal the reference
    ref = reference_inputs(ORDERS, AS_OF)
    assert set(ours) == set(ref)
    for name, expected in ref.items():
        assert ours[name] == pytest.approx(expected, rel=1e-12, abs=1e-12), name


def test_full_and_incremental_aggregates_are_identical(shop: dict[str, Customer]) -> None:
    full = compute.aggregate_all(AS_OF)
    ids = sorted(c.pk for c in shop.values())
    incremental = compute.aggregate_customers(ids, AS_OF)
    for name in (f.name for f in compute.fields(compute.Aggregates)):
        assert np.array_equal(getattr(full, name), getattr(incremental, name)), name


def test_a_transfer_split_into_buckets_gives_the_same_aggregates(shop: dict[str, Customer], monkeypatch: Any) -> None:
    if not compute._is_postgres():
        pytest.skip("the bucketed transfer is PostgreSQL's")
    whole = compute.aggregate_all(AS_OF)
    from django.db import connection

    with connection.cursor() as cursor:  # make the planner's estimate non-zero
        cursor.execute(f"ANALYZE {compute.Order._meta.db_table}")
    monkeypatch.setattr(compute, "TRANSFER_BYTES", 48)  # two orders per bucket
    split = compute.aggregate_all(AS_OF)
    for name in (f.name for f in compute.fields(compute.Aggregates)):
        assert np.array_equal(getattr(whole, name), getattr(split, name)), name


def test_rfm_keeps_counting_orders_and_exact_times(shop: dict[str, Customer]) -> None:
    agg = compute.aggregate_all(AS_OF)
    row = int(np.searchsorted(agg.customer_id, shop["same-day"].pk))
    assert agg.orders[row] == 6  # six counted orders on four purchase days
    assert agg.days[row] == 4
    assert agg.monetary[row] == 300.0
    assert agg.first_epoch[row] == datetime(2026, 1, 4, 17, 0, tzinfo=UTC).timestamp()
    assert agg.last_epoch[row] == datetime(2026, 3, 1, 16, 1, tzinfo=UTC).timestamp()


def test_stored_predictions_equal_the_papers_formulas(shop: dict[str, Customer]) -> None:
    # given a stored state with the CDNOW estimates (too few customers here to fit), scored without refit
    ScoringRun.objects.create(
        as_of=AS_OF,
        finished_at=AS_OF,
        recency_cuts=[],
        frequency_cuts=[],
        monetary_cuts=[],
        bgnbd=CDNOW_BGNBD.as_dict(),
        gamma_gamma=CDNOW_GG.as_dict(),
    )
    # when
    compute.recompute_full(as_of=AS_OF, refit=False)
    # then
    for name, inputs in reference_inputs(ORDERS, AS_OF).items():
        p_alive, purchases, spend = reference_predictions(inputs)
        score = CustomerScore.objects.get(customer=shop[name])
        assert score.p_alive == pytest.approx(p_alive, abs=1e-6), name
        assert score.expected_purchases_12m == pytest.approx(purchases, abs=1e-4), name
        assert float(score.expected_value_12m) == pytest.approx(purchases * spend, abs=0.011), name
    # a customer without repeat purchase days is worth the population mean per purchase
    assert reference_predictions(reference_inputs(ORDERS, AS_OF)["one-day"])[2] == pytest.approx(15.44 * 6.25 / 2.74)


def test_the_models_are_fitted_on_purchase_days_and_repeat_day_spend(db: Any) -> None:
    # given 80 customers with same-day orders and a first day that costs more than the others
    rng = np.random.default_rng(5)
    orders = []
    for i in range(80):
        start = AS_OF - timedelta(days=int(rng.integers(200, 300)))
        offsets = np.sort(rng.choice(np.arange(0, 190), size=int(rng.integers(1, 7)), replace=False))
        for k, offset in enumerate(offsets):
            for twice in range(1 + int(rng.random() < 0.3)):
                at = start + timedelta(days=int(offset), hours=2 + 3 * twice)
                total = f"{(300 if k == 0 else 20 + rng.integers(0, 80)) + twice * 7}.00"
                orders.append((f"c{i}", at, total, "0", OrderStatus.PAID))
    customers = {name: make_customer(name=name) for name in dict.fromkeys(o[0] for o in orders)}
    for name, at, total, refunded, status in orders:
        make_order(customer=customers[name], at=at, total=total, refunded=refunded, status=status)
    # when the full run fits its models
    run = compute.recompute_full(as_of=AS_OF)
    # then they are exactly the fits to the reference inputs
    ref = reference_inputs(orders, AS_OF)
    x, t_x, T, m = (np.array([ref[n][k] for n in customers]) for k in ("x", "t_x", "T", "m"))
    bgnbd = value_models.fit_bgnbd(x, t_x, T)
    assert [run.bgnbd[k] for k in ("r", "alpha", "a", "b")] == pytest.approx(
        [bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b], rel=1e-6
    )
    repeat = x > 0
    gg = value_models.fit_gamma_gamma(x[repeat], m[repeat])
    assert run.gamma_gamma["n"] == int(repeat.sum())
    assert [run.gamma_gamma[k] for k in ("p", "q", "gamma")] == pytest.approx([gg.p, gg.q, gg.gamma], rel=1e-6)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe"])
def test_local_days_match_zoneinfo_across_daylight_saving_switches(zone: str) -> None:
    # given times every 7 minutes over three years (Lord Howe switches by half an hour, São Paulo
    # switched at midnight until 2019)
    start = int(datetime(2017, 1, 1, tzinfo=UTC).timestamp())
    seconds = np.arange(start, start + 3 * 366 * 86400, 7 * 60, dtype=np.int64)
    with override_settings(TIME_ZONE=zone):
        got = compute.local_days(seconds)
    tz = ZoneInfo(zone)
    epoch = date(1970, 1, 1)
    expected = np.asarray(
        [(datetime.fromtimestamp(int(s), UTC).astimezone(tz).date() - epoch).days for s in seconds], dtype=np.int64
    )
    assert np.array_equal(got, expected)
    assert math.isclose(float(got[-1] - got[0]), (seconds[-1] - seconds[0]) / 86400, abs_tol=2)
