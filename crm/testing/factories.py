"""Small factories with keyword-only arguments; each creates exactly what it says."""

from __future__ import annotations

import itertools
from typing import Any

from crm.identity.models import User
from crm.identity.tokens import create_token

_counter = itertools.count(1)


def make_user(
    *,
    username: str | None = None,
    password: str = "correct horse battery staple",
    superuser: bool = False,
    **fields: Any,
) -> User:
    username = username or f"user{next(_counter)}"
    if superuser:
        return User.objects.create_superuser(username=username, password=password, **fields)
    return User.objects.create_user(username=username, password=password, **fields)


def make_token(user: User, *, name: str = "test") -> str:
    _, secret = create_token(user, name=name, actor=None)
    return secret
