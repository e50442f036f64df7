"""Bench: full score recomputation (RFM + BG/NBD + Gamma-Gamma + priority) and an incremental
update after 10,000 new orders, each with its ratio to the raw SQL aggregate doing the same work.
While the full run writes, a reader thread reads single scores (as the customer 360 page does) and
reports the longest wait, i.e. how long the run kept readers out of the score table.

Runs against BENCH_PG_URL (the `make bench` dataset). When that database has no orders (e.g. a
bare migrated database), it first fills it with a synthetic dataset in SQL:
BENCH_CUSTOMERS customers (default 1,000,000) and BENCH_ORDERS orders (default 10 per customer).
Prints one JSON line per figure.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ.setdefault("CRM_ENV", "development")
os.environ.setdefault("CRM_TASK_BACKEND", "immediate")
os.environ.setdefault("CRM_LOG_LEVEL", "WARNING")
if os.environ.get("BENCH_PG_URL"):
    os.environ["DATABASE_URL"] = os.environ["BENCH_PG_URL"]

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from crm.customers.models import Customer, CustomerScore, Order  # noqa: E402
from crm.customers.scoring import compute  # noqa: E402

NEW_ORDERS = 10_000


def emit(name: str, value: float, unit: str, dataset: str, raw: float | None) -> None:
    ratio = round(value / raw, 2) if raw else None
    line = {"name": name, "value": round(value, 3), "unit": unit, "dataset": dataset, "ratio_to_raw_sql": ratio}
    print(json.dumps(line, ensure_ascii=False), flush=True)


def generate(customers: int, orders: int) -> None:
    """A synthetic shop in SQL: skewed purchase counts, two years of history, 3% partly refunded."""
    print(f"generating {customers} customers and {orders} orders", file=sys.stderr)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Customer._meta.db_table} (kind, name, gender, company_name, industry, source, region,
                city, country, lifecycle_stage, email, email_bidx, phone, phone_bidx, address, id_number,
                id_number_bidx, email_opt_in, sms_opt_in, phone_opt_in, custom, is_active, version, created_at,
                updated_at)
            SELECT 'person', '客户' || g, '', '', '', 'bench', (ARRAY['上海','北京','广东','浙江','四川'])[1 + g %% 5],
                '', 'CN', 'customer', '', '', '', '', '', '', '', false, false, false, '{{}}', true, 1, now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [customers],
        )
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {Customer._meta.db_table}")
        low, high = cursor.fetchone()
        cursor.execute(
            f"""
            INSERT INTO {Order._meta.db_table} (customer_id, number, ordered_at, channel, status, currency,
                total_amount, refunded_amount, version, created_at, updated_at)
            SELECT %s + floor(power(random(), 1.7) * (%s - %s + 1))::bigint, 'B' || g,
                now() - (random() * 730) * interval '1 day', 'online',
                CASE WHEN g %% 33 = 0 THEN 'partially_refunded' WHEN g %% 97 = 0 THEN 'cancelled' ELSE 'paid' END,
                'CNY', amount, CASE WHEN g %% 33 = 0 THEN round(amount / 3, 2) ELSE 0 END, 1, now(), now()
            FROM (SELECT g, round((20 + random() * 480)::numeric, 2) AS amount FROM generate_series(1, %s) AS g) s
            """,
            [low, high, low, orders],
        )
        cursor.execute(f"ANALYZE {Customer._meta.db_table}")
        cursor.execute(f"ANALYZE {Order._meta.db_table}")


def raw_full(as_of: Any) -> float:
    """The same aggregate, inactive-customer filter and three NTILE cut-point queries, in SQL only."""
    started = time.perf_counter()
    with transaction.atomic():
        compute.aggregate_all_into_temp(as_of)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM scoring_agg WHERE customer_id IN "
                f"(SELECT id FROM {Customer._meta.db_table} WHERE NOT is_active)"
            )
        compute.quintile_cuts(as_of)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE scoring_agg")
    return time.perf_counter() - started


class ScoreReader(threading.Thread):
    """What the customer 360 page does while a full run writes: read one customer's score, ~100 times
    a second on its own connection, and check that a range of customers never reads as empty."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(daemon=True)
        self.low, self.high = low, high
        self.waits: list[float] = []
        self.empty_ranges = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        table = CustomerScore._meta.db_table
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
            while not self.stop.is_set():
                customer = random.randint(self.low, self.high)
                started = time.perf_counter()
                conn.execute(f"SELECT * FROM {table} WHERE customer_id = %s", [customer]).fetchall()
                self.waits.append(time.perf_counter() - started)
                count = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE customer_id BETWEEN %s AND %s", [customer, customer + 999]
                ).fetchone()
                if count is not None and count[0] == 0 and customer + 999 <= self.high:
                    self.empty_ranges += 1
                time.sleep(0.01)


def raw_incremental(ids: list[int], as_of: Any) -> float:
    started = time.perf_counter()
    compute.aggregate_customers(ids, as_of)
    compute.need_counts(ids)
    return time.perf_counter() - started


def main() -> int:
    customers = int(os.environ.get("BENCH_CUSTOMERS", "1000000"))
    if connection.vendor != "postgresql":
        print("bench_scores needs PostgreSQL (BENCH_PG_URL)", file=sys.stderr)
        return 1
    if not Order.objects.exists():
        generate(customers, int(os.environ.get("BENCH_ORDERS", str(customers * 10))))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {Order._meta.db_table}")
        n_orders = int(cursor.fetchone()[0])
        cursor.execute(f"SELECT COUNT(*) FROM {Customer._meta.db_table}")
        n_customers = int(cursor.fetchone()[0])
    dataset = f"{n_customers:,} customers, {n_orders:,} orders (PostgreSQL)"

    from django.utils import timezone

    as_of = timezone.now()
    raw = raw_full(as_of)
    emit("scores: raw SQL RFM aggregate + NTILE cut points", raw, "s", dataset, None)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {Customer._meta.db_table}")
        low, high = cursor.fetchone()
    reader = ScoreReader(int(low), int(high))
    reader.start()
    started = time.perf_counter()
    run = compute.recompute_full(as_of=as_of)
    full = time.perf_counter() - started
    reader.stop.set()
    reader.join()
    emit("scores: full recompute (RFM + BG/NBD + Gamma-Gamma + priority, bulk write)", full, "s", dataset, raw)
    print(f"full run steps (cumulative s): {run.timings}", file=sys.stderr)
    waits = sorted(reader.waits)
    emit("scores: longest score read while the full run wrote", waits[-1] * 1000 if waits else 0, "ms", dataset, None)
    print(
        f"score reads during the full run: {len(waits)}, p99 {waits[int(len(waits) * 0.99)] * 1000:.1f} ms, "
        f"ranges read empty: {reader.empty_ranges}",
        file=sys.stderr,
    )

    # 10,000 new orders for random customers, committed, then rescored incrementally.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Order._meta.db_table} (customer_id, number, ordered_at, channel, status, currency,
                total_amount, refunded_amount, version, created_at, updated_at)
            SELECT c.id, 'INC-' || c.rn, now() - random() * interval '1 hour', 'online', 'paid', 'CNY',
                round((20 + random() * 480)::numeric, 2), 0, 1, now(), now()
            FROM (SELECT id, row_number() OVER () AS rn
                  FROM (SELECT id FROM {Customer._meta.db_table} ORDER BY random() LIMIT %s) picked) c
            RETURNING customer_id
            """,
            [NEW_ORDERS],
        )
        ids = sorted({int(r[0]) for r in cursor.fetchall()})
    inc_dataset = f"{len(ids):,} customers with {NEW_ORDERS:,} new orders; {dataset}"
    later = timezone.now()
    raw_inc = raw_incremental(ids, later)
    emit("scores: raw SQL aggregate of the touched customers", raw_inc, "s", inc_dataset, None)
    started = time.perf_counter()
    compute.recompute_customers(ids, as_of=later)
    incremental = time.perf_counter() - started
    emit("scores: incremental after 10,000 new orders", incremental, "s", inc_dataset, raw_inc)

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Order._meta.db_table} WHERE number LIKE 'INC-%%'")
    compute.recompute_customers(ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
