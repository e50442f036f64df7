"""Import throughput on PostgreSQL: customers (validation, encryption, blind indexes, upsert lookup) and orders.

Generates a customers CSV and an orders CSV (Chinese names, mobiles, e-mails, some with tags),
imports each through the real import service (the code path of the page, API, CLI and worker),
and in the same run COPYs the same file into an unlogged text table: the "raw SQL" doing the
least possible work with those bytes. Prints one JSON line per figure. Imported rows are deleted
afterwards so the benchmark database keeps its size.

Environment: DATABASE_URL (PostgreSQL), BENCH_IMPORT_CUSTOMERS (default 200000),
BENCH_IMPORT_ORDERS (default 500000), BENCH_CUSTOMERS (dataset label only).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
# Follow-up work (duplicate detection, re-scoring) is queued, as in production, not run inside the timing.
os.environ["CRM_TASK_BACKEND"] = "database"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.customers.models import Customer, ImportJob  # noqa: E402
from crm.customers.transfer import services  # noqa: E402
from crm.identity.models import User  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
MOBILE_PREFIXES = ["130", "135", "136", "137", "138", "139", "150", "151", "158", "186", "188", "189"]
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "成都", "南京", "武汉"]


def write_customers(path: Path, count: int, run: str) -> None:
    rng = random.Random(1)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["外部编号", "姓名", "手机", "邮箱", "性别", "生日", "城市", "公司", "标签"])
        for i in range(count):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            writer.writerow(
                [
                    f"B{run}-{i}",
                    name,
                    f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}",
                    f"u{run}x{i}@example.com",
                    rng.choice(["男", "女", ""]),
                    f"{rng.randrange(1950, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                    rng.choice(CITIES),
                    "",
                    "VIP" if i % 50 == 0 else "",
                ]
            )


def write_orders(path: Path, count: int, customers: int, run: str) -> None:
    rng = random.Random(2)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["订单号", "客户编号", "下单时间", "商品编码", "商品名称", "数量", "单价", "币种"])
        for i in range(count):
            writer.writerow(
                [
                    f"BO{run}-{i}",
                    f"B{run}-{rng.randrange(customers)}",
                    f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} "
                    f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
                    f"SKU-{rng.randrange(500)}",
                    "商品",
                    str(rng.randrange(1, 5)),
                    f"{rng.randrange(100, 100000) / 100:.2f}",
                    "CNY",
                ]
            )


def raw_copy_rate(path: Path, columns: int) -> float:
    """Rows/s of COPY of the same file into an unlogged table of text columns."""
    cols = ", ".join(f"c{i} text" for i in range(columns))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS bench_import_raw ({cols})")
        cursor.execute("TRUNCATE bench_import_raw")
    raw = connection.connection
    started = time.perf_counter()
    copy_sql = "COPY bench_import_raw FROM STDIN WITH (FORMAT csv, HEADER true)"
    with raw.cursor() as cur, cur.copy(copy_sql) as copy, path.open("rb") as fh:
        while block := fh.read(1 << 20):
            copy.write(block)
    raw.commit()
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM bench_import_raw")
        rows = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_import_raw")
    return rows / elapsed


def floor_rate(path: Path, kind: str) -> tuple[float, float | None]:
    """Rows/s (and backend CPU per row) of COPY of already-prepared rows into the real table(s) with all
    their indexes and foreign-key checks, rolled back: the database's share of an import, with no parsing,
    validation or encryption in the timing. The foreign keys are deferred; `SET CONSTRAINTS ALL IMMEDIATE`
    runs their checks inside the timing, as the import's commit does."""
    from django.db import transaction

    from crm.core.crypto import keyring
    from crm.customers.models import Order, OrderLine
    from crm.customers.transfer.bulk import Table, now

    sealed = keyring().encrypt("13800138000")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    moment = now()
    with transaction.atomic():
        if kind == "customers":
            table = Table(Customer)
            ids = table.allocate_ids(len(rows))
            prepared = [
                {
                    "id": pk,
                    "external_id": "F" + r[0],
                    "name": r[1],
                    "phone": sealed,
                    # Blind indexes are HMACs: random positions in their b-trees, as in a real import.
                    "phone_bidx": hashlib.blake2b(b"p%d" % pk, digest_size=16).hexdigest(),
                    "email": sealed,
                    "email_bidx": hashlib.blake2b(b"e%d" % pk, digest_size=16).hexdigest(),
                    "city": r[6],
                    "created_at": moment,
                    "updated_at": moment,
                }
                for r, pk in zip(rows, ids, strict=True)
            ]
            db_cpu, started = backend_cpu(), time.perf_counter()
            table.insert(prepared)
            check_constraints()
            elapsed, db_after = time.perf_counter() - started, backend_cpu()
        else:
            orders, lines = Table(Order), Table(OrderLine)
            customer_ids = list(Customer.objects.values_list("pk", flat=True)[:1000])
            ids = orders.allocate_ids(len(rows))
            line_ids = lines.allocate_ids(len(rows))
            prepared_orders = [
                {
                    "id": pk,
                    "customer_id": customer_ids[i % len(customer_ids)],
                    "number": "F" + r[0],
                    "ordered_at": moment,
                    "total_amount": r[6],
                    "created_at": moment,
                    "updated_at": moment,
                }
                for i, (r, pk) in enumerate(zip(rows, ids, strict=True))
            ]
            prepared_lines = [
                {
                    "id": lid,
                    "order_id": pk,
                    "sku": r[3],
                    "name": r[4],
                    "quantity": r[5],
                    "unit_price": r[6],
                    "amount": r[6],
                }
                for r, pk, lid in zip(rows, ids, line_ids, strict=True)
            ]
            db_cpu, started = backend_cpu(), time.perf_counter()
            orders.insert(prepared_orders)
            lines.insert(prepared_lines)
            check_constraints()
            elapsed, db_after = time.perf_counter() - started, backend_cpu()
        transaction.set_rollback(True)
    cpu_per_row = (db_after - db_cpu) / len(rows) if db_cpu is not None and db_after is not None else None
    return len(rows) / elapsed, cpu_per_row


def check_constraints() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (None unless the server is local)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_import(actor: User, path: Path, kind: str) -> tuple[ImportJob, float, float, float | None]:
    """The job, its wall time, this process's CPU time (the Python share) and the database backend's CPU
    time. On an idle machine the two run on separate cores; what is left of the wall time is waiting
    (for a core on a loaded machine, or for the disk)."""
    with path.open("rb") as fh:
        job = services.create_import_job(actor=actor, upload=fh, file_name=path.name, kind=kind, mode="valid_rows")
    services.start_import(job, actor=actor, dry_run=False, enqueue=False)
    db_cpu = backend_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    services.execute_import(job.pk)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    db_after = backend_cpu()
    db_cpu = db_after - db_cpu if db_cpu is not None and db_after is not None else None
    job.refresh_from_db()
    if job.status != "succeeded" or job.error_count:
        raise SystemExit(f"{kind} import did not succeed cleanly: {job.status} {job.message} {job.errors[:3]}")
    return job, elapsed, cpu, db_cpu


def cleanup(run: str, started_at: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM customers_orderline WHERE order_id IN (SELECT id FROM customers_order WHERE number LIKE %s)",
            [f"BO{run}-%"],
        )
        cursor.execute("DELETE FROM customers_order WHERE number LIKE %s", [f"BO{run}-%"])
        ids = "SELECT id FROM customers_customer WHERE external_id LIKE %s"
        cursor.execute(f"DELETE FROM customers_customer_tags WHERE customer_id IN ({ids})", [f"B{run}-%"])
        cursor.execute(
            f"DELETE FROM customers_duplicatecandidate WHERE customer_a_id IN ({ids}) OR customer_b_id IN ({ids})",
            [f"B{run}-%", f"B{run}-%"],
        )
        cursor.execute("DELETE FROM customers_customer WHERE external_id LIKE %s", [f"B{run}-%"])
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.filter(enqueued_at__gte=started_at).delete()


def main() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("bench_import needs PostgreSQL (DATABASE_URL)")
    n_customers = int(os.environ.get("BENCH_IMPORT_CUSTOMERS", "200000"))
    n_orders = int(os.environ.get("BENCH_IMPORT_ORDERS", "500000"))
    existing = Customer.objects.count()
    dataset = (
        f"{n_customers} customer rows / {n_orders} order rows CSV into PostgreSQL holding {existing} customers"
        f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start)"
    )
    actor = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "bench-import", password=None
    )
    run = str(int(time.time()))
    started_at = timezone.now()
    with tempfile.TemporaryDirectory() as tmp:
        customers_csv = Path(tmp) / "customers.csv"
        orders_csv = Path(tmp) / "orders.csv"
        write_customers(customers_csv, n_customers, run)
        write_orders(orders_csv, n_orders, n_customers, run)
        try:
            copy_customers = raw_copy_rate(customers_csv, 9)
            job, elapsed, cpu, db_cpu = timed_import(actor, customers_csv, "customers")
            rate = job.created_count / elapsed
            emit_cpu("import customers: Python CPU per row", cpu, n_customers, dataset)
            if db_cpu is not None:
                emit_cpu("import customers: PostgreSQL backend CPU per row", db_cpu, n_customers, dataset)
            emit(
                "import customers (validate, encrypt, blind index, upsert check, tags, timeline)",
                rate,
                dataset,
                rate / copy_customers,
            )
            emit("raw COPY of the customers file", copy_customers, dataset, 1.0)
            floor, floor_cpu = floor_rate(customers_csv, "customers")
            emit(
                "COPY of prepared rows into customers_customer (all indexes and checks), rolled back",
                floor,
                dataset,
                floor / copy_customers,
            )
            if floor_cpu is not None:
                emit_cpu("COPY of prepared customer rows: PostgreSQL backend CPU per row", floor_cpu, 1, dataset)
            emit("import customers vs COPY of prepared rows into the real table", rate, dataset, rate / floor)
            copy_orders = raw_copy_rate(orders_csv, 8)
            job, elapsed, cpu, db_cpu = timed_import(actor, orders_csv, "orders")
            rate = job.processed_rows / elapsed
            emit_cpu("import orders: Python CPU per row", cpu, n_orders, dataset)
            if db_cpu is not None:
                emit_cpu("import orders: PostgreSQL backend CPU per row", db_cpu, n_orders, dataset)
            emit("import orders (validate, money, customer lookup, order + line)", rate, dataset, rate / copy_orders)
            emit("raw COPY of the orders file", copy_orders, dataset, 1.0)
            floor, floor_cpu = floor_rate(orders_csv, "orders")
            emit(
                "COPY of prepared rows into orders + order lines (all indexes, foreign keys checked), rolled back",
                floor,
                dataset,
                floor / copy_orders,
            )
            if floor_cpu is not None:
                emit_cpu("COPY of prepared order rows: PostgreSQL backend CPU per row", floor_cpu, 1, dataset)
            emit("import orders vs COPY of prepared rows into the real tables", rate, dataset, rate / floor)
        finally:
            cleanup(run, started_at)


def emit_cpu(name: str, seconds: float, rows: int, dataset: str) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(seconds / max(rows, 1) * 1e6, 1),
                "unit": "us/row",
                "dataset": dataset,
                "ratio_to_raw_sql": None,
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


def emit(name: str, value: float, dataset: str, ratio: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value),
                "unit": "rows/s",
                "dataset": dataset,
                "ratio_to_raw_sql": round(ratio, 3),
            },
            ensure_ascii=False,
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
