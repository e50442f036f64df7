"""`make bench`: build (or reuse) a PostgreSQL dataset with `crm demo`, run every bench/bench_*.py.

Environment: BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/crm_bench),
BENCH_CUSTOMERS (default 1000000), BENCH_ONLY (comma-separated script names, optional),
BENCH_REBUILD=1 to rebuild the dataset even when its size already matches, BENCH_SCRIPT_TIMEOUT
(seconds per script, default 3600).

Each script prints one JSON line per figure:
{"name", "value", "unit", "dataset", "ratio_to_raw_sql"}; this runner echoes them and ends
with a readable table. Results are also appended to bench/results/results.jsonl.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CRM = str(ROOT / ".venv" / "bin" / "crm")


def bench_env(url: str) -> dict[str, str]:
    """Settings for every bench process: PostgreSQL, production-like (no DEBUG), quiet logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_") or k == "CRM_DEMO_PASSWORD"}
    env.update(
        DATABASE_URL=url,
        CRM_ENV="development",  # development keys are fine for a throwaway benchmark database
        CRM_DEBUG="false",
        CRM_TASK_BACKEND="immediate",
        CRM_LOG_LEVEL="WARNING",
        CRM_DATA_DIR=str(RESULTS / "var"),
    )
    return env


def _split(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    return base, name


def count_customers(url: str) -> int | None:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT COUNT(*) FROM customers_customer").fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row else None


def total_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        total = 0
        for table in tables:
            row = conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table))).fetchone()
            total += int(row[0]) if row else 0
    return total


def recreate_database(url: str) -> None:
    base, name = _split(url)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def build_dataset(url: str, customers: int) -> dict[str, Any]:
    """Returns the demo generation figure; reuses the dataset when its size already matches."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    marker = RESULTS / "dataset.json"
    env = bench_env(url)
    if os.environ.get("BENCH_REBUILD") != "1" and count_customers(url) == customers and marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("customers") == customers and saved.get("url") == url:
            print(f"Reusing the dataset in {url} ({customers} customers)", file=sys.stderr)
            return dict(saved["figure"])
    print(f"Building the dataset in {url}: crm demo --customers {customers}", file=sys.stderr)
    recreate_database(url)
    subprocess.run([CRM, "migrate", "-v", "0"], env=env, check=True)
    before = total_rows(url)
    started = time.perf_counter()
    subprocess.run([CRM, "demo", "--customers", str(customers), "--seed", "20261125"], env=env, check=True)
    seconds = time.perf_counter() - started
    rows = total_rows(url) - before
    figure = {
        "name": "demo generation",
        "value": round(rows / seconds, 1) if seconds else 0.0,
        "unit": "rows/s",
        "dataset": f"{customers} customers, {rows} rows in {seconds:.1f}s",
        "ratio_to_raw_sql": None,
    }
    marker.write_text(json.dumps({"customers": customers, "url": url, "figure": figure}))
    return figure


def run_script(script: Path, url: str, customers: int) -> list[dict[str, Any]]:
    env = {**bench_env(url), "BENCH_CUSTOMERS": str(customers), "BENCH_PG_URL": url}
    print(f"== {script.name}", file=sys.stderr)
    limit = int(os.environ.get("BENCH_SCRIPT_TIMEOUT", "3600"))
    try:
        process = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, cwd=ROOT, check=False, timeout=limit
        )
    except subprocess.TimeoutExpired:
        return [{"name": f"{script.stem} FAILED", "value": limit, "unit": "s (timed out)", "dataset": "",
                 "ratio_to_raw_sql": None}]  # fmt: skip
    figures = []
    for line in process.stdout.splitlines():
        try:
            figure = json.loads(line)
        except ValueError:
            print(line, file=sys.stderr)
            continue
        if isinstance(figure, dict) and "name" in figure and "value" in figure:
            figures.append(figure)
    if process.returncode != 0:
        print(process.stderr[-3000:], file=sys.stderr)
        figures.append({"name": f"{script.stem} FAILED", "value": process.returncode, "unit": "exit code",
                        "dataset": "", "ratio_to_raw_sql": None})  # fmt: skip
    return figures


def table(figures: list[dict[str, Any]]) -> str:
    rows = [("figure", "value", "unit", "ratio to raw SQL", "dataset")]
    for f in figures:
        ratio = f.get("ratio_to_raw_sql")
        value = f["value"]
        shown = f"{value:,.1f}" if isinstance(value, (int, float)) else str(value)
        rows.append((str(f["name"]), shown, str(f["unit"]), "" if ratio is None else f"{ratio:.2f}",
                     str(f.get("dataset", ""))))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) if i != 1 else cell.rjust(widths[i]) for i, cell in enumerate(r))
             for r in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/crm_bench")
    customers = int(os.environ.get("BENCH_CUSTOMERS", "1000000"))
    only = {name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",") if name.strip()}
    figures = [build_dataset(url, customers)]
    print(json.dumps(figures[0], ensure_ascii=False), flush=True)
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        if only and script.stem not in only and script.name not in only:
            continue
        for figure in run_script(script, url, customers):
            print(json.dumps(figure, ensure_ascii=False), flush=True)
            figures.append(figure)
    with (RESULTS / "results.jsonl").open("a", encoding="utf-8") as handle:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for figure in figures:
            handle.write(json.dumps({**figure, "at": stamp}, ensure_ascii=False) + "\n")
    print("\n" + table(figures))
    return 1 if any(f["name"].endswith("FAILED") for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
