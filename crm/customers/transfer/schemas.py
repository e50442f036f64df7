"""API shapes of import and export jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema


class ImportJobOut(Schema):
    id: int
    kind: str
    status: str
    dry_run: bool
    mode: str
    upsert_by: str
    file_name: str
    encoding: str
    total_rows: int | None
    processed_rows: int
    percent: int
    created_count: int
    updated_count: int
    error_count: int
    message: str
    cancel_requested: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class PreviewOut(Schema):
    header: list[str]
    rows: list[list[str]]
    mapping: dict[str, str]
    fields: list[dict[str, str]]
    encoding: str


class MappingIn(Schema):
    mapping: dict[str, str]
    mode: Literal["all_or_nothing", "valid_rows"] | None = None
    upsert_by: Literal["", "external_id", "email", "phone"] | None = None


class RunIn(Schema):
    dry_run: bool = False


class RowErrorOut(Schema):
    row: int
    field: str
    message: str


class ErrorPage(Schema):
    items: list[RowErrorOut]
    next_cursor: str | None = None


class ExportIn(Schema):
    kind: Literal["customers", "contacts", "orders"]
    format: Literal["csv", "xlsx"] = "csv"
    filters: dict[str, Any] = {}


class ExportJobOut(Schema):
    id: int
    kind: str
    format: str
    status: str
    row_count: int
    filters: dict[str, Any]
    created_at: dt.datetime
    finished_at: dt.datetime | None
    download_url: str | None
