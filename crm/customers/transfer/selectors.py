"""Reads of import and export jobs: people see their own jobs; superusers see everyone's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from crm.core.errors import NotFound
from crm.customers.models import ExportJob, ImportJob


def list_import_jobs(user: Any) -> QuerySet[ImportJob]:
    qs = ImportJob.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs if user.is_superuser else qs.filter(created_by=user)


def get_import_job(user: Any, pk: Any) -> ImportJob:
    try:
        return list_import_jobs(user).get(pk=pk)
    except (ImportJob.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound() from exc


def list_export_jobs(user: Any) -> QuerySet[ExportJob]:
    qs = ExportJob.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return qs if user.is_superuser else qs.filter(created_by=user)


def get_export_job(user: Any, pk: Any) -> ExportJob:
    try:
        return list_export_jobs(user).get(pk=pk)
    except (ExportJob.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound() from exc
