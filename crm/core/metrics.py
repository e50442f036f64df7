"""Prometheus metrics: request count and latency by route, task queue depth."""

from __future__ import annotations

import logging
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

# Set by `crm serve` for its granian workers: each process writes its samples to files there,
# and a scrape of any worker adds them all up (otherwise each worker would report only itself).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REGISTRY = CollectorRegistry(auto_describe=False)

REQUESTS = Counter("crm_http_requests_total", "HTTP requests handled", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class DatabaseCollector:
    """Reads the task queue depth and live workers from the database at scrape time."""

    def collect(self):  # type: ignore[no-untyped-def]
        from datetime import timedelta

        from django.conf import settings
        from django.utils import timezone

        from crm.core.health import queue_depths
        from crm.core.models import WorkerHeartbeat

        family = GaugeMetricFamily("crm_task_queue_depth", "Tasks waiting to run", labels=["queue", "status"])
        workers = GaugeMetricFamily("crm_workers_alive", "Background workers with a recent heartbeat")
        try:
            for (queue, status), count in queue_depths().items():
                family.add_metric([queue, status], count)
            cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE)
            workers.add_metric([], WorkerHeartbeat.objects.filter(beat_at__gte=cutoff).count())
        except Exception:
            logging.getLogger(__name__).warning("task metrics unavailable", exc_info=True)
        yield family
        yield workers


REGISTRY.register(DatabaseCollector())


def render() -> bytes:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(DatabaseCollector())
        return generate_latest(registry)
    return generate_latest(REGISTRY)
