"""The whole pipeline on a synthetic shop: model fit, stored state, tiers, schedule_rescore, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from crm.customers.models import Customer, CustomerScore, Order
from crm.customers.scoring import compute, value_models
from crm.customers.scoring.services import schedule_rescore
from crm.customers.scoring.store.models import ScoringRun
from crm.customers.scoring.tests.factories import make_customer, make_order

AS_OF = datetime(2026, 9, 1, tzinfo=UTC)
TRUTH = value_models.BgNbdParams(r=0.5, alpha=6.0, a=0.7, b=3.0)


@pytest.fixture
def synthetic_shop(db: Any) -> list[Customer]:
    """400 customers whose purchases follow BG/NBD(TRUTH) over 40–52 weeks, bulk-inserted."""
    rng = np.random.default_rng(42)
    n = 400
    ages = rng.uniform(40, 52, n)
    customers = Customer.objects.bulk_create([Customer(name=f"合成{i}") for i in range(n)])
    orders: list[Order] = []
    lam = rng.gamma(TRUTH.r, 1 / TRUTH.alpha, n)
    p = rng.beta(TRUTH.a, TRUTH.b, n)
    for i, customer in enumerate(customers):
        start = AS_OF - timedelta(weeks=float(ages[i]))
        times = [0.0]
        clock = 0.0
        while rng.random() >= p[i]:
            clock += rng.exponential(1 / lam[i])
            if clock > ages[i]:
                break
            times.append(clock)
        for k, t in enumerate(times):
            orders.append(
                Order(
                    customer=customer,
                    number=f"S{i:04d}-{k:03d}",
                    ordered_at=start + timedelta(weeks=t),
                    total_amount=round(float(rng.gamma(6.0, 8.0)), 2),
                )
            )
    Order.objects.bulk_create(orders)
    return customers


def test_full_run_fits_and_stores_the_value_models(synthetic_shop: list[Customer]) -> None:
    run = compute.recompute_full(as_of=AS_OF)
    assert run.customers == 400
    params = run.bgnbd
    assert set(params) >= {"r", "alpha", "a", "b", "ll", "n"}
    # 400 customers pin the parameters down loosely; the fitted likelihood must beat the truth's
    scores = CustomerScore.objects.all()
    assert scores.filter(p_alive__isnull=True).count() == 0
    assert all(0 <= s.p_alive <= 1 for s in scores)
    assert all(s.expected_purchases_12m >= 0 for s in scores)
    assert run.gamma_gamma["q"] > 1
    tiers = {t: scores.filter(value_tier=t).count() for t in "ABC"}
    assert 60 <= tiers["A"] <= 100
    assert 100 <= tiers["B"] <= 140
    # one-time buyers long ago are less likely alive than frequent recent buyers
    champions = scores.filter(rfm_segment="champions")
    lost = scores.filter(rfm_segment="lost")
    if champions.exists() and lost.exists():
        assert np.mean([s.expected_purchases_12m for s in champions]) > np.mean(
            [s.expected_purchases_12m for s in lost]
        )


def test_incremental_uses_stored_parameters(synthetic_shop: list[Customer]) -> None:
    first = compute.recompute_full(as_of=AS_OF)
    customer = synthetic_shop[0]
    make_order(customer=customer, at=AS_OF + timedelta(days=1), total="80.00")
    compute.recompute_customers([customer.pk], as_of=AS_OF + timedelta(days=2))
    assert ScoringRun.objects.count() == 1  # no refit
    score = CustomerScore.objects.get(customer=customer)
    assert score.recency_days == 1
    assert first.bgnbd["r"] == ScoringRun.objects.get().bgnbd["r"]


def test_schedule_rescore_runs_after_commit_only(db: Any, django_capture_on_commit_callbacks: Any) -> None:
    # given a scored customer who then buys again
    customer = make_customer(name="回头客")
    make_order(customer=customer, at=datetime.now(UTC) - timedelta(days=30))
    compute.recompute_full()
    make_order(customer=customer, at=datetime.now(UTC) - timedelta(days=1), total="50.00")
    # when re-scoring is scheduled inside the transaction
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        schedule_rescore([customer.pk, customer.pk])
        assert CustomerScore.objects.get(customer=customer).frequency == 1  # nothing ran yet
    # then after commit the task ran (immediate backend in tests) and the score is fresh
    assert len(callbacks) == 1
    assert CustomerScore.objects.get(customer=customer).frequency == 2


def test_schedule_rescore_with_nothing_schedules_nothing(db: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        schedule_rescore([])
    assert callbacks == []


def test_first_rescore_without_a_full_run_does_a_full_run(db: Any) -> None:
    customer = make_customer(name="新店")
    make_order(customer=customer, at=datetime.now(UTC) - timedelta(days=3))
    compute.recompute_customers([customer.pk])
    assert ScoringRun.objects.count() == 1
    assert CustomerScore.objects.get(customer=customer).frequency == 1


def test_cli_recompute_full_and_for_some_customers(synthetic_shop: list[Customer]) -> None:
    out = StringIO()
    call_command("scores", "recompute", "--full", stdout=out)
    assert "400" in out.getvalue()
    out = StringIO()
    ids = f"{synthetic_shop[0].pk},{synthetic_shop[1].pk}"
    call_command("scores", "recompute", "--customers", ids, stdout=out)
    assert "2" in out.getvalue()


def test_cli_rejects_bad_customer_ids(db: Any) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("scores", "recompute", "--customers", "1,x")


def test_large_full_run_swaps_in_a_table_with_the_same_rows_indexes_constraints_and_grants(
    synthetic_shop: list[Customer], monkeypatch: Any
) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the table swap is the PostgreSQL bulk path")

    def schema() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'customers_customerscore'")
            names = {row[0] for row in cursor.fetchall()}
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                "WHERE conrelid = 'customers_customerscore'::regclass"
            )
            names |= {f"{name}: {definition} {valid}" for name, definition, valid in cursor.fetchall()}
            cursor.execute(
                "SELECT relacl::text, reloptions::text FROM pg_class WHERE oid = 'customers_customerscore'::regclass"
            )
            return names | {f"acl {acl} options {options}" for acl, options in cursor.fetchall()}

    def snapshot() -> list[tuple[Any, ...]]:
        fields = [f.attname for f in CustomerScore._meta.concrete_fields if f.attname != "computed_at"]
        return list(CustomerScore.objects.order_by("customer_id").values_list(*fields))

    # given rows written in place (and a customer with needs only, so NULLs are exercised), a grant
    # and a storage parameter on the table
    from crm.customers.choices import NeedLevel
    from crm.customers.scoring.tests.factories import make_need

    make_need(customer=make_customer(name="只有需求"), level=NeedLevel.HIGH)
    with connection.cursor() as cursor:
        cursor.execute("GRANT SELECT ON customers_customerscore TO PUBLIC")
        cursor.execute("ALTER TABLE customers_customerscore SET (fillfactor = 90)")
    compute.recompute_full(as_of=AS_OF)
    in_place = snapshot()
    before = schema()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'customers_customerscore'::regclass::oid")
        old_oid = cursor.fetchone()[0]
    # when the same state is written by building a new table and swapping it in
    monkeypatch.setattr(compute, "SWAP_ROWS", 1)
    compute.recompute_full(as_of=AS_OF, refit=False)
    # then it is a new table with the same rows, indexes, constraints (foreign key validated), grant
    # and options, and no table is left behind
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'customers_customerscore'::regclass::oid, to_regclass('customers_customerscore_next')")
        new_oid, leftover = cursor.fetchone()
    assert new_oid != old_oid
    assert leftover is None
    assert snapshot() == in_place
    assert schema() == before
    assert len(in_place) == 401


def test_binary_copy_writes_what_plain_inserts_write(synthetic_shop: list[Customer]) -> None:
    """The binary COPY encoder (numeric digits, timestamps, NULL groups, padded JSON) against the
    values psycopg sends itself, row by row, through the same table."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("binary COPY is PostgreSQL's")
    from crm.customers.choices import NeedLevel
    from crm.customers.scoring import rows
    from crm.customers.scoring.tests.factories import make_need

    make_need(customer=make_customer(name="只有需求"), level=NeedLevel.URGENT)
    run = compute.recompute_full(as_of=AS_OF)
    state = compute.State.from_run(run, AS_OF)
    agg = compute.aggregate_all(AS_OF)
    needs = compute.Counts.from_dict(compute.need_counts(None), 3)
    ids = compute._union(agg.customer_id, needs.nonzero_ids())
    scored = compute.score(ids, agg, state, needs, compute.Counts.from_dict({}, 1), AS_OF)
    columns = ", ".join(compute.SCORE_COLUMNS)
    with connection.cursor() as cursor:
        for name in ("binary_side", "plain_side"):
            cursor.execute(f"CREATE TEMP TABLE {name} AS SELECT {columns} FROM customers_customerscore WHERE false")  # noqa: S608
        compute._copy_in(cursor, "binary_side", [scored])
        cursor.executemany(
            f"INSERT INTO plain_side ({columns}) VALUES ({', '.join(['%s'] * len(compute.SCORE_COLUMNS))})",  # noqa: S608
            [
                (*row[:-2], json.dumps(json.loads(row[-2])), f"{row[-1]}+00:00")
                for row in rows.python_rows(scored.columns)
            ],
        )
        # EXCEPT compares typed values: numerics by value, floats exactly, jsonb structurally
        cursor.execute(
            f"SELECT count(*) FROM (SELECT {columns} FROM binary_side EXCEPT SELECT {columns} FROM plain_side) d"  # noqa: S608
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE priority_reasons <> '[]') FROM binary_side")
        total, with_reasons = cursor.fetchone()
    assert total == 401
    assert with_reasons > 100


def test_numbers_are_written_like_python_formats_them() -> None:
    from crm.customers.scoring import rows

    rng = np.random.default_rng(7)
    values = np.concatenate(
        [rng.normal(0, 1e4, 500), rng.integers(-10, 10, 50).astype(float), [0.0, -0.0, 0.004, -0.004, 1e12, np.nan]]
    )
    for decimals in (0, 1, 2, 4):
        texts = rows.matrix_texts(rows.number_matrix(values, decimals))
        expected = [f"{round(float(np.nan_to_num(v)), decimals) + 0.0:.{decimals}f}" for v in values]
        assert texts == [e.replace("-0.", "0.") if float(e) == 0 else e for e in expected]


def test_foreign_key_left_not_valid_is_validated_after_removing_rows_of_deleted_customers(
    synthetic_shop: list[Customer],
) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("NOT VALID foreign keys are PostgreSQL's")
    # given a swapped-in table whose foreign key is not validated yet, holding a row of a customer
    # deleted while the run computed
    compute.recompute_full(as_of=AS_OF)
    table = CustomerScore._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype = 'f'",
            [table],
        )
        name, definition = cursor.fetchone()
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        cursor.execute(
            f"INSERT INTO {table} SELECT 999999999, {', '.join(compute.SCORE_COLUMNS[1:])} FROM {table} LIMIT 1"  # noqa: S608
        )
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID')
    # when the keys are validated
    compute.validate_foreign_keys()
    # then the orphan is gone and the key is valid again
    with connection.cursor() as cursor:
        cursor.execute("SELECT convalidated FROM pg_constraint WHERE conname = %s", [name])
        assert cursor.fetchone()[0] is True
    assert not CustomerScore.objects.filter(customer_id=999999999).exists()
    assert CustomerScore.objects.count() == 400


def test_lock_waits_give_up_and_retry(monkeypatch: Any, db: Any) -> None:
    from django.db import OperationalError, connection
    from psycopg import errors

    if connection.vendor != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's")
    monkeypatch.setattr(compute.time, "sleep", lambda seconds: None)
    attempts: list[str] = []
    with connection.cursor() as cursor:
        real_execute = cursor.execute

        def execute(sql: str, params: Any = None) -> Any:
            if sql.startswith("LOCK"):
                attempts.append(sql)
                if len(attempts) < 3:  # busy twice, then free
                    raise OperationalError("lock timeout") from errors.LockNotAvailable()
            return real_execute(sql, params)

        monkeypatch.setattr(cursor, "execute", execute)
        compute._with_lock_retries(cursor, [f"LOCK TABLE {CustomerScore._meta.db_table} IN SHARE MODE"])
        real_execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"  # the short timeout does not outlive the attempt
    assert len(attempts) == 3


def test_a_table_something_depends_on_is_refilled_in_place(synthetic_shop: list[Customer], monkeypatch: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the table swap is the PostgreSQL bulk path")
    # given a view on the score table (it would block a drop)
    with connection.cursor() as cursor:
        cursor.execute("CREATE VIEW top_scores AS SELECT customer_id FROM customers_customerscore")
    monkeypatch.setattr(compute, "SWAP_ROWS", 1)
    # when a big full run writes
    run = compute.recompute_full(as_of=AS_OF)
    # then it refilled the table in place and the view still reads it
    assert "swap" not in run.timings
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM top_scores")
        assert cursor.fetchone()[0] == 400
