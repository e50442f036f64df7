"""What each index and foreign key of the import's tables costs an imported row (PostgreSQL backend CPU).

COPYs the same prepared rows into the real tables again and again, each time inside a transaction
that first drops every index but the primary key and one other (or keeps one foreign key), then
rolls back: the difference to "primary key only" is that index's share. Backend CPU is read from
/proc, so the server must be local; it is far steadier than wall time on a shared machine.

Not part of `make bench` (its name does not start with bench_): it takes ACCESS EXCLUSIVE locks on
the tables while it runs. Use a benchmark copy of the database:

    DATABASE_URL=…/crm_bench_x CRM_ENV=development PROBE_KIND=customers|orders PROBE_ROWS=50000 \\
        .venv/bin/python bench/probe_import_indexes.py
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django  # noqa: E402

django.setup()

import bench_import  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from crm.core.crypto import keyring  # noqa: E402
from crm.customers.models import Customer, Order, OrderLine  # noqa: E402
from crm.customers.transfer.bulk import Table, now  # noqa: E402


def indexes(table: str) -> list[tuple[str, bool, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, indisprimary, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid = %s::regclass",
            [table],
        )
        return list(cursor.fetchall())


def constraints(table: str, kind: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = %s", [table, kind]
        )
        return [row[0] for row in cursor.fetchall()]


def cpu_per_row(write: Callable[[], None], rows: int, table: str, keep: Sequence[str] = ()) -> float:
    """Backend CPU µs per row of `write`, with only the primary key and `keep` (index or FK names) on `table`."""
    best = float("inf")
    for _attempt in range(2):
        with transaction.atomic():
            with connection.cursor() as cursor:
                for name in constraints(table, "u") + constraints(table, "f"):
                    if name not in keep:
                        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                for name, primary, _sql in indexes(table):
                    if not primary and name not in keep:
                        cursor.execute(f'DROP INDEX "{name}"')
            started = bench_import.backend_cpu()
            write()
            bench_import.check_constraints()
            used = (bench_import.backend_cpu() or 0.0) - (started or 0.0)
            transaction.set_rollback(True)
        best = min(best, used)
    return best / rows * 1e6


def everything(table: str) -> list[str]:
    return [name for name, primary, _sql in indexes(table) if not primary] + constraints(table, "f")


def report(write: Callable[[], None], rows: int, table: str) -> None:
    base = cpu_per_row(write, rows, table)
    print(f"{table}: {cpu_per_row(write, rows, table, everything(table)):.1f} us/row with everything")
    print(f"{table}: {base:.1f} us/row with the primary key only")
    for name, primary, sql in indexes(table):
        if not primary:
            print(f"  +{cpu_per_row(write, rows, table, [name]) - base:5.1f} us/row  {sql}")
    for name in constraints(table, "f"):
        print(f"  +{cpu_per_row(write, rows, table, [name]) - base:5.1f} us/row  foreign key {name}")


def main() -> None:
    if connection.vendor != "postgresql" or bench_import.backend_cpu() is None:
        raise SystemExit("needs a local PostgreSQL (DATABASE_URL)")
    kind = os.environ.get("PROBE_KIND", "customers")
    count = int(os.environ.get("PROBE_ROWS", "50000"))
    run = f"P{int(time.time())}"
    moment = now()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        if kind == "customers":
            bench_import.write_customers(path, count, run)
        else:
            bench_import.write_orders(path, count, 1000, run)
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))[1:]
    if kind == "customers":
        table = Table(Customer)
        sealed = keyring().encrypt("13800138000")
        ids = table.allocate_ids(len(rows))
        prepared: list[dict[str, Any]] = [
            {
                "id": pk,
                "external_id": "F" + r[0],
                "name": r[1],
                "phone": sealed,
                "phone_bidx": hashlib.blake2b(b"p%d" % pk, digest_size=16).hexdigest(),
                "email": sealed,
                "email_bidx": hashlib.blake2b(b"e%d" % pk, digest_size=16).hexdigest(),
                "city": r[6],
                "created_at": moment,
                "updated_at": moment,
            }
            for r, pk in zip(rows, ids, strict=True)
        ]

        def customers_only() -> None:
            table.insert(prepared)

        report(customers_only, count, table.name)
        return
    orders, lines = Table(Order), Table(OrderLine)
    customers = list(Customer.objects.values_list("pk", flat=True)[:200_000])
    pick = random.Random(3).choice
    ids = orders.allocate_ids(len(rows))
    order_rows = [
        {
            "id": pk,
            "customer_id": pick(customers),
            "number": "F" + r[0],
            "ordered_at": moment,
            "total_amount": r[6],
            "created_at": moment,
            "updated_at": moment,
        }
        for r, pk in zip(rows, ids, strict=True)
    ]
    line_rows = [
        {"order_id": pk, "sku": r[3], "name": r[4], "quantity": r[5], "unit_price": r[6], "amount": r[6]}
        for r, pk in zip(rows, ids, strict=True)
    ]

    def orders_only() -> None:
        orders.insert(order_rows)

    report(orders_only, count, orders.name)

    def both() -> None:
        orders.insert(order_rows)
        lines.insert(line_rows)

    report(both, count, lines.name)


if __name__ == "__main__":
    main()
