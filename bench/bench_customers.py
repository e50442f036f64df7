"""Customer 360 API, customer list and search: p99 latency through the whole Django stack vs raw SQL.

Run by `make bench` (bench/run.py) against the demo dataset on PostgreSQL; standalone:
DATABASE_URL=postgresql://…/crm_bench CRM_ENV=development .venv/bin/python bench/bench_customers.py
Requests go through django.test.Client (middleware, auth with a bearer token, access checks,
serialisation, JSON rendering) in-process; the raw-SQL figure runs the same reads with a cursor.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
# BENCH_SECTIONS=search runs only some of: 360, list, search, bulk (the cases drawn stay the same).
SECTIONS = {s.strip() for s in os.environ.get("BENCH_SECTIONS", "360,list,search,bulk").split(",")}
WARMUP = 30


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(fn: Callable[[Any], Any], args: list[Any]) -> list[float]:
    for arg in args[:WARMUP]:
        fn(arg)
    samples = []
    for arg in args:
        started = time.perf_counter()
        fn(arg)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def emit(name: str, app: list[float], raw: list[float], dataset: str) -> None:
    value = p99(app)
    raw_value = p99(raw)
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 2),
                "unit": "ms p99",
                "dataset": dataset,
                "ratio_to_raw_sql": round(value / raw_value, 2) if raw_value else None,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def rows(sql: str, params: list[Any]) -> list[Any]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def main() -> int:
    from crm.identity.models import User
    from crm.identity.tokens import create_token

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True, "is_staff": True})
    if not user.is_superuser:
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
    _, secret = create_token(user, name="bench", actor=None)
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    rng = random.Random(1125)
    bounds = rows("SELECT MIN(id), MAX(id), COUNT(*) FROM customers_customer", [])[0]
    low, high, count = int(bounds[0] or 0), int(bounds[1] or 0), int(bounds[2] or 0)
    orders = rows("SELECT COUNT(*) FROM customers_order", [])[0][0]
    dataset = f"PostgreSQL, {count} customers, {orders} orders" if connection.vendor == "postgresql" else "SQLite"
    if count == 0:
        print("no customers: run `crm demo` first", file=sys.stderr)
        return 1

    # --- customer 360 ---------------------------------------------------------------------
    ids = [rng.randint(low, high) for _ in range(REQUESTS)]

    def api_360(pk: int) -> None:
        response = client.get(f"/api/v1/customers/{pk}")
        assert response.status_code in (200, 404), response.content[:200]

    def raw_360(pk: int) -> None:
        rows("SELECT * FROM customers_customer WHERE id = %s AND is_active", [pk])
        rows(
            "SELECT t.* FROM customers_tag t JOIN customers_customer_tags ct ON ct.tag_id = t.id "
            "WHERE ct.customer_id = %s",
            [pk],
        )
        rows("SELECT * FROM customers_contact WHERE customer_id = %s ORDER BY is_primary DESC, name LIMIT 100", [pk])
        rows("SELECT * FROM customers_customerchannel WHERE customer_id = %s LIMIT 50", [pk])
        rows(
            "SELECT n.*, t.* FROM customers_need n JOIN customers_needtype t ON t.id = n.need_type_id "
            "WHERE n.customer_id = %s ORDER BY n.raised_at DESC, n.id DESC LIMIT 50",
            [pk],
        )
        order_rows = rows(
            "SELECT * FROM customers_order WHERE customer_id = %s ORDER BY ordered_at DESC, id DESC LIMIT 20", [pk]
        )
        rows("SELECT * FROM customers_orderline WHERE order_id = ANY(%s)", [[r[0] for r in order_rows]])
        rows("SELECT COUNT(*) FROM customers_order WHERE customer_id = %s", [pk])
        rows("SELECT * FROM customers_customerscore WHERE customer_id = %s", [pk])
        rows(
            "SELECT * FROM core_timelineevent WHERE customer_id = %s ORDER BY occurred_at DESC, id DESC LIMIT 30", [pk]
        )

    if "360" in SECTIONS:
        emit("customer 360 API", timed(api_360, ids), timed(raw_360, ids), dataset)

    # --- customer list: 50 rows, filtered and sorted --------------------------------------
    cities = [r[0] for r in rows("SELECT DISTINCT city FROM customers_customer LIMIT 30", []) if r[0]]
    stages = ["customer", "vip", "lead", "churned"]
    cases = [(rng.choice(cities), rng.choice(stages)) for _ in range(REQUESTS)]

    def api_list(case: tuple[str, str]) -> None:
        city, stage = case
        response = client.get(
            "/api/v1/customers", {"city": city, "lifecycle_stage": stage, "sort": "-updated_at", "limit": 50}
        )
        assert response.status_code == 200, response.content[:200]

    def raw_list(case: tuple[str, str]) -> None:
        city, stage = case
        found = rows(
            "SELECT c.*, u.username, s.rfm_segment, s.value_tier FROM customers_customer c "
            "LEFT JOIN identity_user u ON u.id = c.owner_id "
            "LEFT JOIN customers_customerscore s ON s.customer_id = c.id "
            "WHERE c.is_active AND c.city = %s AND c.lifecycle_stage = %s "
            "ORDER BY c.updated_at DESC, c.id DESC LIMIT 51",
            [city, stage],
        )
        rows(
            "SELECT ct.customer_id, t.name FROM customers_customer_tags ct JOIN customers_tag t ON t.id = ct.tag_id "
            "WHERE ct.customer_id = ANY(%s)",
            [[r[0] for r in found]],
        )

    if "list" in SECTIONS:
        emit(
            "customer list API (50 rows, city+stage, by updated)",
            timed(api_list, cases),
            timed(raw_list, cases),
            dataset,
        )

    # --- search ----------------------------------------------------------------------------
    names = [r[0] for r in rows("SELECT name FROM customers_customer WHERE kind = 'person' LIMIT 2000", [])]
    chinese = [n for n in names if n and "\u4e00" <= n[0] <= "\u9fff" and len(n) >= 2]
    two_char = [rng.choice(chinese)[:2] for _ in range(REQUESTS)]
    three_char = [n[:3] for n in (rng.choice([c for c in chinese if len(c) >= 3] or chinese) for _ in range(REQUESTS))]

    def api_search(q: str) -> None:
        response = client.get("/api/v1/search", {"q": q, "limit": 20})
        assert response.status_code == 200, response.content[:200]

    # The same reads as crm/customers/search.py: walk the term table's (piece, updated_at, id) key for
    # the query's rarest piece newest first, joined to the customers by id (and updated_at, as a range).
    select = (
        "SELECT c.id, c.name, c.company_name, c.city, c.lifecycle_stage FROM customers_customer c "
        "JOIN customers_customersearchterm t ON t.customer_id = c.id "
        "AND t.updated_at >= c.updated_at AND t.updated_at <= c.updated_at "
        "WHERE c.is_active AND t.bigram = lower(%s) "
    )

    def raw_search_2(q: str) -> None:
        rows(select + "ORDER BY t.updated_at DESC, c.id DESC LIMIT 20", [q])

    def raw_search_3(q: str) -> None:
        pieces = list(dict.fromkeys(q[i : i + 2] for i in range(len(q) - 1)))
        lead = rows(
            "SELECT u.p FROM unnest(%s::text[]) WITH ORDINALITY AS u(p, n) ORDER BY (SELECT count(*) FROM "
            "(SELECT 1 FROM customers_customersearchterm WHERE bigram = lower(u.p) LIMIT 2000) x), u.n LIMIT 1",
            [pieces],
        )[0][0]
        others = [p for p in pieces if p != lead]
        rows(
            select + "AND strpos(lower(c.name || ' ' || c.company_name), lower(%s)) > 0 "
            "AND (SELECT count(*) FROM customers_customersearchterm o WHERE o.bigram = ANY(%s::text[]) "
            "AND o.updated_at = t.updated_at AND o.customer_id = t.customer_id) >= %s "
            "ORDER BY t.updated_at DESC, c.id DESC LIMIT 20",
            [lead, q, [p.lower() for p in others], len(others)],
        )

    if connection.vendor == "postgresql" and "search" in SECTIONS:
        emit(
            "search API, 2-character Chinese name", timed(api_search, two_char), timed(raw_search_2, two_char), dataset
        )
        emit(
            "search API, 3-character Chinese name",
            timed(api_search, three_char),
            timed(raw_search_3, three_char),
            dataset,
        )
    if "bulk" in SECTIONS:
        bench_bulk_orders(client, rng, low, high, dataset)
    return 0


def bench_bulk_orders(client: Client, rng: random.Random, low: int, high: int, dataset: str) -> None:
    """POST /api/v1/orders/bulk with 1,000 orders (validated, audited, timeline, rescoring) vs executemany."""
    import datetime as dt
    import statistics
    import uuid

    from django.db import transaction
    from django.utils import timezone

    when = (timezone.now() - dt.timedelta(days=1)).isoformat()
    runs = 5

    def batch() -> list[dict[str, Any]]:
        return [
            {
                "customer_id": rng.randint(low, high),
                "ordered_at": when,
                "number": f"BENCH-{uuid.uuid4().hex[:16]}",
                "lines": [{"name": "茶", "category": "茶叶", "quantity": 1, "unit_price": "88.00"}],
            }
            for _ in range(1000)
        ]

    app_seconds = []
    for _ in range(runs):
        body = json.dumps({"orders": batch()})
        started = time.perf_counter()
        response = client.post("/api/v1/orders/bulk", body, content_type="application/json")
        app_seconds.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content[:300]
    raw_seconds = []
    for _ in range(runs):
        orders = batch()
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM customers_order")
            first = int(cursor.fetchone()[0]) + 1_000_000_000
            cursor.executemany(
                "INSERT INTO customers_order (id, customer_id, number, ordered_at, channel, status, currency, "
                "total_amount, refunded_amount, version, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, 'online', 'paid', 'CNY', 88.00, 0, 1, now(), now())",
                [(first + i, o["customer_id"], o["number"], when) for i, o in enumerate(orders)],
            )
            cursor.executemany(
                "INSERT INTO customers_orderline (order_id, sku, name, category, quantity, unit_price, amount) "
                "VALUES (%s, '', '茶', '茶叶', 1, 88.00, 88.00)",
                [(first + i,) for i in range(len(orders))],
            )
            transaction.set_rollback(True)
        raw_seconds.append(time.perf_counter() - started)
    app = statistics.median(app_seconds)
    raw = statistics.median(raw_seconds)
    print(
        json.dumps(
            {
                "name": "bulk orders API (1,000 orders + lines, all or nothing)",
                "value": round(1000 / app, 1),
                "unit": "orders/s",
                "dataset": dataset,
                "ratio_to_raw_sql": round(app / raw, 2) if raw else None,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
