"""What the search-term triggers add to a bulk load: COPY of N customer rows with and without them.

Not run by `make bench` (it writes and rolls back N customers several times; ~1 min per run at
N=100,000). Standalone, against a copy of the demo dataset on PostgreSQL:
DATABASE_URL=postgresql://…/crm_bench_x CRM_ENV=development .venv/bin/python bench/search_write_cost.py
`BENCH_ROWS` (100000) rows are copied from random existing customers with new ids and
`updated_at = now()`, then COPYed into customers_customer inside a transaction that is rolled back:
alternately with the triggers enabled ("with") and disabled ("without"), `BENCH_ROUNDS` (3) times.
Prints, per variant, the median wall time, backend CPU time (from /proc, so run it on the database
host) and the triggers' own time (pg_stat_xact_user_functions), as JSON lines.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")  # the database runs elsewhere
    return (int(fields[11]) + int(fields[12])) / TICK


def prepared_rows(raw: object) -> bytes:
    columns = [c.name for c in raw.execute("SELECT * FROM customers_customer LIMIT 0").description]  # type: ignore[attr-defined]
    picked = ", ".join(
        {
            "id": "id + (SELECT max(id) FROM customers_customer)",
            "external_id": "NULL",
            "created_at": "now()",
            "updated_at": "now()",
        }.get(c, c)
        for c in columns
    )
    buffer = io.BytesIO()
    with raw.cursor().copy(  # type: ignore[attr-defined]
        f"COPY (SELECT {picked} FROM customers_customer ORDER BY random() LIMIT {ROWS}) TO STDOUT"
    ) as copy:
        for block in copy:
            buffer.write(block)
    return buffer.getvalue()


def main() -> int:
    if connection.vendor != "postgresql":
        print("PostgreSQL only", file=sys.stderr)
        return 1
    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = False
    pid = raw.execute("SELECT pg_backend_pid()").fetchone()[0]
    data = prepared_rows(raw)
    raw.rollback()
    results: dict[str, list[tuple[float, float, float]]] = {"with": [], "without": []}
    for _ in range(ROUNDS):
        for variant in ("without", "with"):
            raw.execute("SET track_functions = 'pl'")
            if variant == "without":
                raw.execute("ALTER TABLE customers_customer DISABLE TRIGGER customer_search_insert")
            cpu, started = backend_cpu(pid), time.perf_counter()
            with raw.cursor().copy("COPY customers_customer FROM STDIN") as copy:
                copy.write(data)
            wall, cpu = time.perf_counter() - started, backend_cpu(pid) - cpu
            trigger_ms = raw.execute(
                "SELECT coalesce(sum(total_time), 0) FROM pg_stat_xact_user_functions "
                "WHERE funcname = 'crm_customer_search_insert'"
            ).fetchone()[0]
            raw.rollback()
            results[variant].append((wall, cpu, float(trigger_ms) / 1000))
    load = os.getloadavg()[0]
    for variant, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        print(
            json.dumps(
                {
                    "name": f"COPY {ROWS} customers, search triggers {variant}",
                    "value": round(ROWS / wall),
                    "unit": "rows/s",
                    "wall_s": round(wall, 2),
                    "backend_cpu_s": round(statistics.median(r[1] for r in runs), 2),
                    "trigger_s": round(statistics.median(r[2] for r in runs), 2),
                    "load_average": round(load, 2),
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
