"""`crm serve`: granian (WSGI) in production, Django's runserver in development; optional worker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from crm.core.metrics import MULTIPROC_ENV


class Command(BaseCommand):
    help = "Start the web server (and, with --with-worker, a background task worker beside it)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("CRM_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("CRM_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("CRM_WEB_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("CRM_WEB_THREADS", "4")))
        parser.add_argument("--with-worker", action="store_true", help="also run `crm worker` in a child process")
        parser.add_argument("--dev", action="store_true", help="use Django's auto-reloading development server")

    def handle(self, *args: Any, **options: Any) -> None:
        worker: subprocess.Popen[bytes] | None = None
        if options["with_worker"] and settings.TASK_BACKEND == "database":
            worker = subprocess.Popen([sys.executable, "-m", "crm.cli", "worker"])
        try:
            if options["dev"] or settings.DEBUG:
                call_command("runserver", f"{options['host']}:{options['port']}", use_reloader=options["dev"])
            else:
                self._granian(options)
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)

    def _granian(self, options: dict[str, Any]) -> None:
        cmd = [
            sys.executable, "-m", "granian",
            "--interface", "wsgi",
            "--host", options["host"],
            "--port", str(options["port"]),
            "--workers", str(options["workers"]),
            "--blocking-threads", str(options["threads"]),
            "--no-ws",
            "crm.wsgi:application",
        ]  # fmt: skip
        self.stdout.write(f"Serving on http://{options['host']}:{options['port']} with granian (WSGI)")
        self.stdout.flush()
        metrics_dir = settings.DATA_DIR / "metrics" / str(options["port"])
        shutil.rmtree(metrics_dir, ignore_errors=True)  # samples of a previous run must not add up
        metrics_dir.mkdir(parents=True)
        env = {**os.environ, MULTIPROC_ENV: str(metrics_dir)}
        server = subprocess.Popen(cmd, env=env)  # noqa: S603
        # A process manager stops `crm serve` with SIGTERM: pass it on so granian drains and exits.
        previous = {sig: signal.signal(sig, lambda signum, frame: server.send_signal(signum))
                    for sig in (signal.SIGTERM, signal.SIGINT)}  # fmt: skip
        try:
            code = server.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        raise SystemExit(code)
