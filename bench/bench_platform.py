"""Platform figures under granian (WSGI): /healthz and an authenticated API GET, requests/s.

Run by bench/run.py with DATABASE_URL pointing at the bench database. Load comes from wrk when
installed (Debian package `wrk`), otherwise from a bounded Python keep-alive client; both only
on 127.0.0.1. Prints one JSON line per figure.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRM = str(ROOT / ".venv" / "bin" / "crm")
HOST = "127.0.0.1"
PORT = int(os.environ.get("BENCH_PORT", "8191"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WORKERS = os.environ.get("BENCH_WEB_WORKERS", "2")
THREADS = os.environ.get("BENCH_WEB_THREADS", "4")
DATASET = f"{os.environ.get('BENCH_CUSTOMERS', '?')} customers (PostgreSQL)"


def wait_for_port(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((HOST, PORT)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server did not start on {HOST}:{PORT}")


def make_token() -> str:
    subprocess.run(  # the admin may already exist (demo data): ignore "exists"
        [CRM, "createuser", "bench-admin", "--superuser"], capture_output=True, text=True, check=False
    )
    result = subprocess.run(
        [CRM, "token", "create", "bench-admin", "--name", f"bench-{int(time.time())}", "--expires-days", "1"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"\b(crm_[A-Za-z0-9_\-]+)", result.stdout)
    if not match:
        raise RuntimeError(f"no token in: {result.stdout!r} {result.stderr!r}")
    return match.group(1)


def with_wrk(path: str, headers: dict[str, str]) -> float:
    args = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, f"http://{HOST}:{PORT}{path}"], capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        raise RuntimeError(f"errors while loading {path}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(out)
    return float(match.group(1))


def with_python(path: str, headers: dict[str, str]) -> float:
    """A bounded keep-alive client: CONNECTIONS threads for SECONDS; counts 2xx answers only."""
    stop = time.monotonic() + SECONDS
    counts = [0] * CONNECTIONS
    failures: list[str] = []

    def loop(slot: int) -> None:
        conn = http.client.HTTPConnection(HOST, PORT, timeout=10)
        while time.monotonic() < stop:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(str(response.status))
                return
            counts[slot] += 1
        conn.close()

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(CONNECTIONS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{path} answered {failures[:3]}")
    return sum(counts) / (time.monotonic() - started)


def main() -> int:
    token = make_token()
    server = subprocess.Popen(
        [CRM, "serve", "--host", HOST, "--port", str(PORT), "--workers", WORKERS, "--threads", THREADS],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    client = "wrk" if shutil.which("wrk") else "python"
    load = with_wrk if client == "wrk" else with_python
    try:
        wait_for_port()
        auth = {"Authorization": f"Bearer {token}"}
        for path, headers in (("/healthz", {}), ("/api/v1/me", auth)):  # warm up connections and caches
            conn = http.client.HTTPConnection(HOST, PORT, timeout=10)
            conn.request("GET", path, headers=headers)
            status = conn.getresponse().status
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        setup = f"granian WSGI {WORKERS}w×{THREADS}t, {client} {CONNECTIONS} conns {SECONDS}s"
        figures = [
            ("/healthz requests/s (granian)", load("/healthz", {})),
            ("authenticated API GET /api/v1/me requests/s (granian)", load("/api/v1/me", auth)),
        ]
        for name, value in figures:
            print(json.dumps({"name": name, "value": round(value, 1), "unit": "req/s",
                              "dataset": f"{DATASET}; {setup}", "ratio_to_raw_sql": None}))  # fmt: skip
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
