"""The access layer: which rows of model M may user U do verb V on. Fails closed.

Every read in every entry point starts here (`visible_to`), so a forgotten check returns
nothing rather than everything. Models register once with `register(...)`; the user's
roles (identity app) answer `user.access_scope(object_type, verb)` with a `Scope`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from crm.core.errors import NotFound

M = TypeVar("M", bound=models.Model)

VERBS = ("view", "create", "change", "delete", "export", "import", "assign")


class Scope(enum.IntEnum):
    """Record scope a role grants, widest last. Comparable: Scope.TEAM > Scope.OWN."""

    OWN = 1
    TEAM = 2
    DEPARTMENT = 3
    ALL = 4


@dataclass(frozen=True)
class AccessSpec:
    model: type[models.Model]
    object_type: str
    owner_field: str | None = "owner"
    team_field: str | None = "owner__team"
    department_field: str | None = "owner__department"
    # Extra filter a record must also pass, whatever the scope (e.g. not soft-deleted).
    base_filter: Q = field(default_factory=Q)
    # Fields holding personal data: masked in audit diffs, candidates for field rules.
    sensitive_fields: tuple[str, ...] = ()


_registry: dict[type[models.Model], AccessSpec] = {}


def register(model: type[M], **options: Any) -> type[M]:
    spec = AccessSpec(model=model, object_type=model._meta.label_lower, **options)
    _registry[model] = spec
    return model


def spec_for(model: type[models.Model]) -> AccessSpec:
    try:
        return _registry[model]
    except KeyError as exc:
        raise LookupError(f"{model._meta.label} is not registered with the access layer") from exc


def registered_models() -> list[type[models.Model]]:
    return list(_registry)


def _scope_of(user: Any, object_type: str, verb: str) -> Scope | None:
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    resolver = getattr(user, "access_scope", None)
    if resolver is None:
        return None
    scope = resolver(object_type, verb)
    return Scope(scope) if scope is not None else None


def scope_filter(user: Any, spec: AccessSpec, scope: Scope) -> Q | None:
    """The Q object for a scope, or None when the user lacks what the scope needs (fail closed)."""
    if scope is Scope.ALL:
        return Q()
    if scope is Scope.DEPARTMENT and spec.department_field and getattr(user, "department_id", None):
        return Q(**{spec.department_field: user.department_id})
    if scope >= Scope.TEAM and spec.team_field and getattr(user, "team_id", None):
        return Q(**{spec.team_field: user.team_id})
    if spec.owner_field:
        return Q(**{spec.owner_field: user.pk})
    return None


def visible_to(user: Any, verb: str, model_or_qs: type[M] | QuerySet[M]) -> QuerySet[M]:
    """Rows of the model (or of the given queryset) that `user` may `verb`. Empty when in doubt."""
    qs: QuerySet[M] = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    spec = spec_for(qs.model)
    scope = _scope_of(user, spec.object_type, verb)
    if scope is None:
        return qs.none()
    condition = scope_filter(user, spec, scope)
    if condition is None:
        return qs.none()
    return qs.filter(spec.base_filter).filter(condition)


def get_for(user: Any, verb: str, model_or_qs: type[M] | QuerySet[M], pk: Any) -> M:
    """One row the user may `verb`, or NotFound — for a missing and a forbidden row alike."""
    try:
        return visible_to(user, verb, model_or_qs).get(pk=pk)
    except (models.ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise NotFound() from exc


def can(user: Any, verb: str, obj: models.Model) -> bool:
    return visible_to(user, verb, type(obj)).filter(pk=obj.pk).exists()


def has_verb(user: Any, verb: str, model: type[models.Model]) -> bool:
    """Whether the user has `verb` on the model at any scope (e.g. may create at all)."""
    return _scope_of(user, spec_for(model).object_type, verb) is not None


@dataclass(frozen=True)
class FieldPolicy:
    """Per-field rules of a user's role on one model: hidden fields are neither shown nor writable."""

    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()

    def can_read(self, field_name: str) -> bool:
        return field_name not in self.hidden

    def can_write(self, field_name: str) -> bool:
        return field_name not in self.hidden and field_name not in self.read_only


def field_policy(user: Any, model: type[models.Model]) -> FieldPolicy:
    """The field rules for `user` on `model` (the identity app answers `user.field_rules(object_type)`)."""
    resolver = getattr(user, "field_rules", None)
    if resolver is None or getattr(user, "is_superuser", False):
        return FieldPolicy()
    hidden, read_only = resolver(model._meta.label_lower)
    return FieldPolicy(frozenset(hidden), frozenset(read_only))


def check_writable(user: Any, model: type[models.Model], field_names: Any) -> None:
    """Refuse (403, nothing written) an attempt to write a field the role may not write."""
    from django.utils.translation import gettext as _

    from crm.core.errors import Forbidden

    policy = field_policy(user, model)
    refused = sorted(name for name in field_names if not policy.can_write(name))
    if refused:
        raise Forbidden(
            _("You may not change these fields."),
            errors={name: [_("You may not change this field.")] for name in refused},
        )
