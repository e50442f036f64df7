"""Idempotency-Key on API POSTs: same key and body → the first response again, no second object."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.middleware import is_api_path
from crm.core.models import IdempotencyRecord
from crm.core.problems import problem_response

HEADER = "Idempotency-Key"


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not is_api_path(request.path):
            return self.get_response(request)
        if not request.user.is_authenticated:
            return self.get_response(request)  # the API answers 401 itself
        key = key.strip()
        if not key or len(key) > 200:
            return problem_response(400, _("Bad request"), errors={HEADER: [_("Use a key of 1 to 200 characters.")]})
        try:
            body = request.body
        except Exception:  # noqa: BLE001 - e.g. RequestDataTooBig: let the view report it
            return self.get_response(request)
        body_hash = hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()
        owner_key = f"user:{request.user.pk}"
        cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
        IdempotencyRecord.objects.filter(owner_key=owner_key, key=key, created_at__lt=cutoff).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner_key=owner_key, key=key, method="POST", path=request.path[:400], body_hash=body_hash
                )
        except IntegrityError:
            return self._replay(owner_key, key, body_hash)

        response = self.get_response(request)
        if response.status_code >= 500 or getattr(response, "streaming", False):
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code,
            content_type=response.get("Content-Type", "")[:100],
            response_body=bytes(response.content),
        )
        return response

    def _replay(self, owner_key: str, key: str, body_hash: str) -> HttpResponse:
        existing = IdempotencyRecord.objects.filter(owner_key=owner_key, key=key).first()
        if existing is None:  # removed between our insert and read: ask the client to retry
            return problem_response(409, _("Conflict"), _("The same Idempotency-Key is being processed; retry."))
        if existing.body_hash != body_hash:
            return problem_response(
                422,
                _("Idempotency-Key reused"),
                _("This Idempotency-Key was already used with a different request body."),
                errors={HEADER: [_("Already used with a different body.")]},
            )
        if existing.status_code is None:
            return problem_response(
                409, _("Conflict"), _("A request with this Idempotency-Key is still being processed.")
            )
        response = HttpResponse(
            bytes(existing.response_body or b""), status=existing.status_code, content_type=existing.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response
