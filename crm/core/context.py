"""Who is acting, from where, for which request: carried through the call stack by contextvars."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""
    channel: str = "system"  # web | api | cli | task | system


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "crm_request_context",
    default=RequestContext(),  # noqa: B039 - frozen dataclass
)


def current() -> RequestContext:
    return _current.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bind(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
