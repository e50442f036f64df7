"""`crm worker`: runs background tasks from the database queue and reports a heartbeat."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection
from django.utils import timezone

from crm.core import schedule
from crm.core.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 15
logger = logging.getLogger(__name__)


def beat(worker_id: str, started_at: Any) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": started_at,
            "beat_at": timezone.now(),
        },
    )


class Command(BaseCommand):
    help = "Run the background task worker (all queues unless --queue is given)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--queue", action="append", dest="queues", help="queue to serve (repeatable); default all")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls when idle")
        parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many tasks")
        parser.add_argument("--batch", action="store_true", help="exit when the queue is empty")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = f"{socket.gethostname()}-{os.getpid()}"[:100]
        started_at = timezone.now()
        stop = threading.Event()

        def heartbeat_loop() -> None:
            while not stop.is_set():
                try:
                    beat(worker_id, started_at)
                    schedule.enqueue_due()
                except Exception:
                    logger.warning("worker heartbeat or schedule failed", exc_info=True)
                finally:
                    close_old_connections()
                stop.wait(HEARTBEAT_SECONDS)
            connection.close()

        thread = threading.Thread(target=heartbeat_loop, name="crm-heartbeat", daemon=True)
        thread.start()
        worker_args = ["--queue-name", ",".join(options["queues"]) if options["queues"] else "*"]
        worker_args += ["--interval", str(options["interval"]), "--worker-id", worker_id]
        if options["max_tasks"]:
            worker_args += ["--max-tasks", str(options["max_tasks"])]
        if options["batch"]:
            worker_args += ["--batch"]
        try:
            call_command("db_worker", *worker_args, verbosity=options["verbosity"])
        finally:
            stop.set()
            WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
