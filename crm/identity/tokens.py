"""Issuing and checking API bearer tokens (stored as SHA-256 hashes, shown once)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.core.audit import record_audit
from crm.identity.models import ApiToken, User

TOKEN_PREFIX = "crm_"  # noqa: S105 - a public prefix, not a secret


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(user: User, *, name: str, actor: Any, expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the secret, which is never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[:12], token_hash=hash_token(secret), expires_at=expires_at
        )
        record_audit(actor=actor, verb="token.create", obj=token, extra={"user": user.username, "name": name})
    return token, secret


def authenticate_token(secret: str) -> User | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(secret)).first()
    if token is None or not token.is_usable:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user = token.user
    user.__dict__["api_token"] = token
    return user
