"""Issuing and checking API bearer tokens (stored as SHA-256 hashes, shown once)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.access import VERBS
from crm.core.audit import record_audit
from crm.core.errors import ValidationFailed
from crm.identity.models import ApiToken, User

TOKEN_PREFIX = "crm_"  # noqa: S105 - a public prefix, not a secret


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def clean_scopes(user: User, scopes: Iterable[str] | None) -> list[str]:
    """Validate "object_type:verb" scopes: each must be a right the user holds (a token never widens)."""
    from crm.core.access import registered_models

    known = {model._meta.label_lower for model in registered_models()}
    cleaned: list[str] = []
    errors: list[str] = []
    for raw in scopes or ():
        scope = str(raw).strip()
        object_type, _sep, verb = scope.partition(":")
        if object_type not in known or (verb not in VERBS and verb != "*"):
            errors.append(
                _("Unknown scope “%(scope)s”: use object_type:verb, e.g. customers.customer:view.") % {"scope": scope}
            )
            continue
        verbs = VERBS if verb == "*" else (verb,)
        if not any(user.access_scope(object_type, v) is not None for v in verbs):
            errors.append(_("The user does not have the right “%(scope)s”.") % {"scope": scope})
            continue
        if scope not in cleaned:
            cleaned.append(scope)
    if errors:
        raise ValidationFailed(_("Some scopes are not valid."), errors={"scopes": errors})
    return cleaned


def create_token(
    user: User,
    *,
    name: str,
    actor: Any,
    expires_at: datetime | None = None,
    scopes: Iterable[str] | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the secret, which is never stored."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("Give the token a name."), errors={"name": [_("Enter 1 to 100 characters.")]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            _("The expiry must be in the future."), errors={"expires_at": [_("The expiry must be in the future.")]}
        )
    cleaned = clean_scopes(user, scopes)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=secret[:12],
            token_hash=hash_token(secret),
            expires_at=expires_at,
            scopes=cleaned,
        )
        record_audit(
            actor=actor,
            verb="token.create",
            obj=token,
            extra={
                "user": user.username,
                "name": name,
                "scopes": cleaned,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, secret


def revoke_token(token: ApiToken, *, actor: Any) -> ApiToken:
    """Revoke at once (idempotent: revoking a revoked token changes nothing and audits nothing)."""
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        token.refresh_from_db()
        if updated:
            record_audit(actor=actor, verb="token.revoke", obj=token, extra={"user": token.user.username})
    return token


def authenticate_token(secret: str) -> User | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    try:
        # token_hash is unique: get() spares first()'s ORDER BY, on the query every API request makes.
        token = ApiToken.objects.select_related("user", "user__role").get(token_hash=hash_token(secret))
    except ApiToken.DoesNotExist:
        return None
    if not token.is_usable:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user = token.user
    # User.access_scope reads it: a scoped token narrows the user's rights to its scopes.
    user.__dict__["api_token"] = token
    return user
