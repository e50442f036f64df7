"""The access layer: which rows of model M may user U do verb V on. Fails closed.

Every read in every entry point starts here, so a forgotten check returns nothing rather
than everything. How to use it from another app:

Registering a model (once, in the app's ``access.py`` imported from ``AppConfig.ready``)::

    access.register(Customer, owner_field="owner", team_field="owner__team",
                    department_field="owner__department",
                    sensitive_fields=("email", "phone", "address", "id_number"))
    access.register(Contact, owner_field="customer__owner", team_field="customer__owner__team",
                    department_field="customer__owner__department", share_field="customer")
    access.register(Tag, owner_field=None, team_field=None, department_field=None)  # only ALL scope

Every registered model needs a row in ``crm.identity.builtin_roles.PERMISSIONS`` and an entry
in ``crm.testing.matrix`` or the permission-matrix test fails.

Reading (selectors)::

    qs = access.visible_to(user, "view", Customer)           # queryset, empty when in doubt
    customer = access.get_for(user, "change", Customer, pk)  # NotFound (404) when missing OR forbidden
    if not access.has_verb(user, "create", Customer): raise Forbidden()

Record scopes (``Scope``): OWN (owner is the user), TEAM (owner in the user's team),
DEPARTMENT (owner in the user's department), ALL. On top of the role's scope:

* a manager (``user.manager_of_id``) also gets the rows of the team they manage, for every verb
  their role grants at any scope ("a manager sees what the team sees"), unless the model is
  registered with ``manager_reach=False`` (personal things such as API tokens);
* a record shared with the user's team or department (identity ``RecordShare``) is added for the
  shared verb (a share for any verb also lets members view the record), provided the role grants
  that verb at some scope: sharing widens the rows, never the verbs. Core does not import identity:
  the user object answers ``user.shared_record_ids(object_type, verb)`` with ids (a queryset is
  used as a subquery).
* API tokens narrow the user's rights: the user's ``access_scope`` consults the token it was
  authenticated with (``ApiToken.scopes``, entries ``"customers.customer:view"``,
  ``"customers.customer:*"`` or ``"*:view"``; empty = the user's full rights).

Field rules (hidden / read-only per role and object type)::

    policy = access.field_policy(user, Customer)       # FieldPolicy(hidden, read_only)
    policy.can_read("phone"); policy.can_write("phone")
    access.check_writable(user, Customer, payload.keys())   # Forbidden (403), nothing written
    data = access.strip_hidden(user, Customer, data)         # dict without hidden keys
    rows = access.strip_hidden_rows(user, Customer, rows)    # same, for an iterable of dicts
    columns = access.readable_fields(user, Customer, columns)  # for export headers

Serialisers and exports drop hidden fields (``strip_hidden*`` / ``readable_fields``); PATCH and
imports refuse them (``check_writable``). Showing a masked/hidden value on purpose is a "reveal":
record it with ``crm.core.audit.record_reveal``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
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
    # Path to the record whose shares count ("pk": the row itself; "customer": its customer's).
    share_field: str | None = "pk"
    # Whether a team's manager reaches the team's rows (False for personal things like API tokens).
    manager_reach: bool = True

    @property
    def share_object_type(self) -> str | None:
        if self.share_field is None:
            return None
        if self.share_field == "pk":
            return self.object_type
        model: Any = self.model
        for part in self.share_field.split("__"):
            model = model._meta.get_field(part).related_model
        return str(model._meta.label_lower)

    @property
    def is_owned(self) -> bool:
        """Whether rows belong to someone; unowned rows are reachable only with scope ALL."""
        return bool(self.owner_field or self.team_field or self.department_field)


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


def registered_specs() -> list[AccessSpec]:
    return sorted(_registry.values(), key=lambda s: s.object_type)


def _is_acting(user: Any) -> bool:
    return (
        user is not None and bool(getattr(user, "is_authenticated", False)) and bool(getattr(user, "is_active", False))
    )


def _scope_of(user: Any, object_type: str, verb: str) -> Scope | None:
    if verb not in VERBS or not _is_acting(user):
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


def _manager_filter(user: Any, spec: AccessSpec) -> Q | None:
    managed = getattr(user, "manager_of_id", None)
    if managed and spec.team_field and spec.manager_reach:
        return Q(**{spec.team_field: managed})
    return None


def _share_filter(user: Any, spec: AccessSpec, verb: str) -> Q | None:
    share_type = spec.share_object_type
    resolver = getattr(user, "shared_record_ids", None)
    if share_type is None or resolver is None:
        return None
    ids = resolver(share_type, verb)
    if ids is None:
        return None
    return Q(**{f"{spec.share_field}__in": ids})


def condition_for(user: Any, verb: str, spec: AccessSpec) -> Q | None:
    """The whole row condition for `user` doing `verb` (scope | managed team | shares); None = nothing."""
    scope = _scope_of(user, spec.object_type, verb)
    if scope is None:
        return None
    parts = [q for q in (scope_filter(user, spec, scope),) if q is not None]
    if scope is not Scope.ALL:
        parts += [q for q in (_manager_filter(user, spec), _share_filter(user, spec, verb)) if q is not None]
    if not parts:
        return None
    condition = parts[0]
    for extra in parts[1:]:
        condition |= extra
    return condition


def visible_to(user: Any, verb: str, model_or_qs: type[M] | QuerySet[M]) -> QuerySet[M]:
    """Rows of the model (or of the given queryset) that `user` may `verb`. Empty when in doubt."""
    qs: QuerySet[M] = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs._default_manager.all()
    spec = spec_for(qs.model)
    condition = condition_for(user, verb, spec)
    if condition is None:
        return qs.none()
    # Scope, manager and share conditions follow forward keys or use `__in` subqueries, so they
    # never duplicate a row: no DISTINCT needed.
    return qs.filter(spec.base_filter).filter(condition)


def check_pk(pk: Any) -> None:
    """NotFound for a key beyond any database integer (PostgreSQL would fail the transaction)."""
    if isinstance(pk, int) and not -(2**63) <= pk < 2**63:
        raise NotFound()


def get_for(user: Any, verb: str, model_or_qs: type[M] | QuerySet[M], pk: Any) -> M:
    """One row the user may `verb`, or NotFound — for a missing and a forbidden row alike."""
    check_pk(pk)
    try:
        return visible_to(user, verb, model_or_qs).get(pk=pk)
    except (models.ObjectDoesNotExist, ValueError, TypeError) as exc:
        raise NotFound() from exc


def can(user: Any, verb: str, obj: models.Model) -> bool:
    return visible_to(user, verb, type(obj)).filter(pk=obj.pk).exists()


def has_verb(user: Any, verb: str, model: type[models.Model]) -> bool:
    """Whether the user has `verb` on the model at any scope (e.g. may create at all)."""
    return _scope_of(user, spec_for(model).object_type, verb) is not None


def require_verb(user: Any, verb: str, model: type[models.Model]) -> None:
    """Refuse (403) a collection-level act (create, import, export) the role does not grant."""
    if not has_verb(user, verb, model):
        from django.utils.translation import gettext as _

        from crm.core.errors import Forbidden

        raise Forbidden(_("Your role does not allow this."))


# --- field rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldPolicy:
    """Per-field rules of a user's role on one model: hidden fields are neither shown nor writable."""

    hidden: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()

    def can_read(self, field_name: str) -> bool:
        return field_name not in self.hidden

    def can_write(self, field_name: str) -> bool:
        return field_name not in self.hidden and field_name not in self.read_only

    def readable(self, field_names: Iterable[str]) -> list[str]:
        return [name for name in field_names if self.can_read(name)]

    def strip(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in data.items() if key not in self.hidden}


def field_policy(user: Any, model: type[models.Model]) -> FieldPolicy:
    """The field rules for `user` on `model` (the identity app answers `user.field_rules(object_type)`).

    Anonymous or unknown users get every sensitive field of the model hidden (fail closed).
    """
    if not _is_acting(user):
        spec = _registry.get(model)
        return FieldPolicy(hidden=frozenset(spec.sensitive_fields if spec else ()))
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


def strip_hidden(user: Any, model: type[models.Model], data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` (a serialised record) without the fields the user's role hides."""
    return field_policy(user, model).strip(data)


def strip_hidden_rows(
    user: Any, model: type[models.Model], rows: Iterable[Mapping[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Lazily strip hidden fields from many rows (streamed exports); the policy is read once."""
    policy = field_policy(user, model)
    for row in rows:
        yield policy.strip(row)


def readable_fields(user: Any, model: type[models.Model], field_names: Iterable[str]) -> list[str]:
    """The subset of `field_names` the user may see, in order (export columns, list columns)."""
    return field_policy(user, model).readable(field_names)
