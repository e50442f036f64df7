"""Every read of identity objects; each starts from the access layer's `visible_to`."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from crm.core.access import get_for, visible_to
from crm.identity.models import ApiToken, Department, Role, RoleFieldRule, RolePermission, Team, User


def list_users(user: User, *, filters: dict[str, Any] | None = None) -> QuerySet[User]:
    qs = visible_to(user, "view", User).select_related("department", "team", "role", "manager_of")
    filters = filters or {}
    if filters.get("q"):
        term = str(filters["q"]).strip()
        qs = qs.filter(Q(username__icontains=term) | Q(display_name__icontains=term) | Q(email__icontains=term))
    for name in ("department", "team", "role"):
        if filters.get(name):
            qs = qs.filter(**{f"{name}_id": filters[name]})
    if filters.get("is_active") is not None:
        qs = qs.filter(is_active=filters["is_active"])
    return qs


def get_user_for(user: User, pk: Any, verb: str = "view") -> User:
    return get_for(user, verb, User.objects.select_related("department", "team", "role", "manager_of"), pk)


def list_departments(user: User) -> QuerySet[Department]:
    return visible_to(user, "view", Department).prefetch_related("teams").distinct()


def get_department_for(user: User, pk: Any, verb: str = "view") -> Department:
    return get_for(user, verb, Department.objects.distinct(), pk)


def list_teams(user: User, *, department: Any = None) -> QuerySet[Team]:
    qs = visible_to(user, "view", Team).select_related("department").distinct()
    if department:
        qs = qs.filter(department_id=department)
    return qs


def get_team_for(user: User, pk: Any, verb: str = "view") -> Team:
    return get_for(user, verb, Team.objects.select_related("department").distinct(), pk)


def _roles_qs() -> QuerySet[Role]:
    return Role.objects.prefetch_related(
        Prefetch("permissions", queryset=RolePermission.objects.order_by("object_type", "verb")),
        Prefetch("field_rules", queryset=RoleFieldRule.objects.order_by("object_type", "field")),
    )


def list_roles(user: User) -> QuerySet[Role]:
    return visible_to(user, "view", _roles_qs()).distinct()


def get_role_for(user: User, pk: Any, verb: str = "view") -> Role:
    return get_for(user, verb, _roles_qs().distinct(), pk)


def tokens_for(user: User, *, all_users: bool = False) -> QuerySet[ApiToken]:
    """The user's own tokens; with `all_users`, every token the user may view (administrators)."""
    qs = ApiToken.objects.select_related("user")
    own = qs.filter(user=user) if user.token_allows("identity.apitoken", "view") else qs.none()
    if not all_users:
        return own
    return (visible_to(user, "view", qs) | own).distinct()


def get_token_for(user: User, pk: Any, verb: str = "delete") -> ApiToken:
    """A token the user may act on: their own (unless the current token forbids it) or one in scope."""
    from crm.core.errors import NotFound

    try:
        token = ApiToken.objects.select_related("user").get(pk=int(pk))
    except (ApiToken.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound() from exc
    if token.user_id == user.pk and user.token_allows("identity.apitoken", verb):
        return token
    return get_for(user, verb, ApiToken.objects.select_related("user"), pk)
