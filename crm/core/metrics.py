"""Prometheus metrics: request count and latency by route, task queue depth."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=False)

REQUESTS = Counter("crm_http_requests_total", "HTTP requests handled", ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
TASKS_PROCESSED = Counter("crm_tasks_total", "Background tasks finished", ["task", "status"], registry=REGISTRY)
WORKERS_ALIVE = Gauge("crm_workers_alive", "Workers with a recent heartbeat", registry=REGISTRY)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class QueueDepthCollector:
    """Reads the task queue depth from the database at scrape time."""

    def collect(self):  # type: ignore[no-untyped-def]
        from crm.core.health import queue_depths

        family = GaugeMetricFamily("crm_task_queue_depth", "Tasks waiting to run", labels=["queue", "status"])
        try:
            for (queue, status), count in queue_depths().items():
                family.add_metric([queue, status], count)
        except Exception:
            logging.getLogger(__name__).warning("queue depth unavailable", exc_info=True)
        yield family


REGISTRY.register(QueueDepthCollector())


def render() -> bytes:
    return generate_latest(REGISTRY)
