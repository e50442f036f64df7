"""The `crm` console script and its platform commands."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
def test_check_reports_keys_database_and_migrations() -> None:
    out = io.StringIO()
    call_command("check", stdout=out)
    text = out.getvalue()
    assert "ok   keys" in text
    assert "ok   database" in text
    assert "ok   migrations: ok" in text


def test_check_fails_on_an_unmigrated_database(tmp_path: Path) -> None:
    # given: a fresh data directory whose SQLite file has no tables yet
    env = {"CRM_ENV": "development", "CRM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    # when
    result = subprocess.run(
        [sys.executable, "-m", "crm.cli", "check"], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    # then
    assert result.returncode == 1
    assert "FAIL migrations" in result.stdout


def test_crm_help_lists_the_platform_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crm.cli", "help"],
        env={"CRM_ENV": "test", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    for name in ("serve", "worker", "demo", "firstrun", "backup", "restore", "check", "migrate"):
        assert f"    {name}\n" in result.stdout


def test_serve_runs_granian_in_production_and_answers(tmp_path: Path) -> None:
    # given: a production configuration with real keys and a migrated SQLite database
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PATH": "/usr/bin:/bin",
        "CRM_ENV": "production",
        "CRM_SECRET_KEY": "p" * 50,
        "CRM_ENCRYPTION_KEYS": "k1:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
        "CRM_BLIND_INDEX_KEY": "YmxpbmQtaW5kZXgta2V5LWZvci10ZXN0cy0zMmJ5dGVzIQ==",
        "CRM_DATA_DIR": str(tmp_path),
        "CRM_ALLOWED_HOSTS": "127.0.0.1",
        "CRM_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "crm.cli"]
    subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, capture_output=True)
    # when
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "2", "--threads", "2"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        body = b""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = response.read()
                    break
            except OSError:
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/web/app.css", timeout=5) as response:
            css_status = response.status
        for _ in range(9):  # spread over both granian workers (new connection each time)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).close()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            scraped = response.read().decode()
    finally:
        import os
        import signal

        server.send_signal(signal.SIGTERM)  # only `crm serve` itself, as a process manager would
        output = server.communicate(timeout=30)[0]
        leftover = subprocess.run(["pgrep", "-g", str(server.pid)], capture_output=True, text=True, check=False)
        if leftover.stdout.strip():
            os.killpg(server.pid, signal.SIGKILL)
    # then
    assert body == b'{"status": "ok"}'
    assert css_status == 200
    # every worker's requests are in one scrape: at least 1 + 9 /healthz (a slow first poll may add one)
    counted = re.search(r'crm_http_requests_total\{method="GET",route="/healthz",status="200"\} ([\d.]+)', scraped)
    assert counted is not None
    assert float(counted.group(1)) >= 10
    assert "granian (WSGI)" in output
    assert server.returncode is not None
    assert leftover.stdout.strip() == "", "granian outlived `crm serve`"
