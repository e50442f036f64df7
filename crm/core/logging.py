"""Structured logs: one JSON object per line, carrying the request id so a request can be followed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from crm.core import context


class RequestContextFilter(logging.Filter):
    """Adds `request_id` (and, for django.request records, the request's own id) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = context.current().request_id
        if not request_id:
            # django.request logs 4xx/5xx after our middleware has unbound the context.
            request = getattr(record, "request", None)
            request_id = getattr(request, "request_id", "") if request is not None else ""
        record.request_id = request_id or "-"
        return True


class CrmJsonFormatter(JsonFormatter):
    """JSON lines with an ISO-8601 UTC timestamp; drops the unserialisable `request` object."""

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        request = log_data.pop("request", None)
        if request is not None and hasattr(request, "path"):
            log_data["method"] = getattr(request, "method", "")
            log_data["path"] = request.path
