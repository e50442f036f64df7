"""Operations endpoints and logs: /healthz, /readyz, /metrics, OpenAPI, JSON logs with request ids."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from crm.core.logging import CrmJsonFormatter, RequestContextFilter
from crm.core.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_healthz_needs_no_login_and_is_not_cached(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_with_inline_tasks(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    checks = response.json()["checks"]
    assert all(check["ok"] for check in checks.values()), checks


@override_settings(TASK_BACKEND="database", WORKER_HEARTBEAT_MAX_AGE=60)
def test_readyz_is_503_without_a_recent_worker_heartbeat(client: Client) -> None:
    # given: a worker that last beat five minutes ago
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="h", pid=1, started_at=now, beat_at=now - timedelta(minutes=5)
    )
    # when
    response = client.get("/readyz")
    # then
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["ok"] is False


@override_settings(TASK_BACKEND="database", WORKER_HEARTBEAT_MAX_AGE=60)
def test_readyz_is_ready_with_a_fresh_heartbeat(client: Client) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(worker_id="w1", hostname="h", pid=1, started_at=now, beat_at=now)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["detail"] == "1 worker(s) alive"


def test_worker_beat_records_a_heartbeat() -> None:
    from crm.core.management.commands.worker import beat

    beat("test-worker", timezone.now())
    beat("test-worker", timezone.now())
    assert WorkerHeartbeat.objects.filter(worker_id="test-worker").count() == 1


def test_metrics_count_requests_by_route_and_report_queue_depth(client: Client) -> None:
    # given: one waiting task and a few requests
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.create(
        status="READY",
        args_kwargs={"args": [], "kwargs": {}},
        task_path="crm.example.task",
        queue_name="imports",
        backend_name="default",
        run_after=timezone.now(),
    )
    client.get("/healthz")
    client.get("/healthz")
    # when
    text = client.get("/metrics").content.decode()
    # then
    assert 'crm_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'crm_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/healthz"}' in text
    assert 'crm_task_queue_depth{queue="imports",status="ready"} 1.0' in text
    assert "crm_workers_alive 0.0" in text


def test_metrics_use_the_route_pattern_not_the_raw_path(client: Client) -> None:
    client.get("/no-such-page-12345/")
    text = client.get("/metrics").content.decode()
    assert "no-such-page-12345" not in text
    assert 'route="<unmatched>"' in text


def test_request_id_is_echoed_or_made(client: Client) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"})["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})["X-Request-ID"]
    assert made != "bad id with spaces"
    assert len(made) == 32


def test_logs_are_json_lines_with_the_request_id(client: Client) -> None:
    # given: the production formatter on a handler we can read
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(CrmJsonFormatter("%(levelname)s %(name)s %(message)s %(request_id)s"))
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        # when: a request that django.request logs (404)
        response = client.get("/no-such-page/", headers={"X-Request-ID": "req-42"})
    finally:
        root.removeHandler(handler)
    # then
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert response.status_code == 404
    record = next(line for line in lines if line["name"] == "django.request")
    assert record["request_id"] == "req-42"
    assert record["path"] == "/no-such-page/"
    assert record["time"].endswith("+00:00")


def test_problem_bodies_carry_the_request_id(client: Client) -> None:
    response = client.get("/api/v1/me", headers={"X-Request-ID": "rid-7"})
    assert response.status_code == 401
    assert response.json()["request_id"] == "rid-7"


def test_openapi_document_validates(client: Client) -> None:
    from openapi_spec_validator import validate

    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    validate(document)
    assert document["info"]["title"] == "CRM API"
    assert "/api/v1/me" in document["paths"]


def test_interactive_docs_page_loads(admin_client: Client) -> None:
    response = admin_client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content
