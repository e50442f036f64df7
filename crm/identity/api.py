"""Identity endpoints: who am I, token exchange, users, departments, teams, roles, tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from crm.core.access import visible_to
from crm.core.api import paginate, version_from
from crm.core.errors import Forbidden, ValidationFailed
from crm.core.problems import problem_response
from crm.identity import selectors, services
from crm.identity.authentication import (
    LoginFailed,
    LoginLocked,
    check_password_login,
    check_totp_login,
    record_login_success,
)
from crm.identity.http import AuthedRequest
from crm.identity.models import ApiToken, Department, Role, Team, TotpDevice, User
from crm.identity.schemas import (
    DepartmentIn,
    DepartmentOut,
    DepartmentPatch,
    MeOut,
    PasswordIn,
    RoleIn,
    RoleOut,
    RolePatch,
    TeamIn,
    TeamOut,
    TeamPatch,
    TokenCreatedOut,
    TokenExchangeIn,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
)
from crm.identity.tokens import create_token, revoke_token

router = Router(tags=["identity"])


class PageOf(Schema):
    next_cursor: str | None = None


class UserPage(PageOf):
    items: list[UserOut]


class DepartmentPage(PageOf):
    items: list[DepartmentOut]


class TeamPage(PageOf):
    items: list[TeamOut]


class RolePage(PageOf):
    items: list[RoleOut]


class TokenPage(PageOf):
    items: list[TokenOut]


def _version(request: HttpRequest, body_version: int | None) -> int | None:
    """`version` from the body, else from If-Match (the platform's convention)."""
    return version_from(body_version, request.headers.get("If-Match"))


def _lookup(actor: User, model: type[Any], pk: int | None, field: str) -> Any:
    """A related object the actor may see, or a field error (never a 500, never a hidden row)."""
    if pk is None:
        return None
    found = visible_to(actor, "view", model).filter(pk=pk).first()
    if found is None:
        raise ValidationFailed(_("The data is not valid"), errors={field: [_("No such object.")]})
    return found


# --- me and token exchange ---------------------------------------------------------------------


@router.get("/me", response=MeOut, summary="The authenticated user")
def me(request: AuthedRequest) -> MeOut:
    user = request.user
    return MeOut(
        id=user.pk,
        username=user.username,
        display_name=str(user),
        department=user.department.name if user.department else None,
        team=user.team.name if user.team else None,
        role=user.role.code if user.role else None,
        is_superuser=user.is_superuser,
    )


def _token_out(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "user_id": token.user_id,
        "username": token.user.username,
        "scopes": list(token.scopes or []),
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "last_used_at": token.last_used_at,
        "usable": token.is_usable,
    }


@router.post(
    "/auth/token",
    auth=None,
    response={201: TokenCreatedOut},
    summary="Exchange username, password (and TOTP code when enrolled) for a bearer token",
)
def exchange_token(request: HttpRequest, data: TokenExchangeIn) -> Any:
    try:
        outcome = check_password_login(data.username, data.password, request=request)
        if outcome.needs_totp:
            check_totp_login(outcome.user, data.totp_code or "")
        elif outcome.must_enrol:
            raise LoginFailed(_("Administrators must enrol in two-factor authentication on their profile page first."))
    except LoginLocked as exc:
        return problem_response(429, exc.title, exc.detail, headers={"Retry-After": str(exc.retry_after)})
    except LoginFailed as exc:
        return problem_response(401, exc.title, exc.detail, headers={"WWW-Authenticate": 'Bearer realm="crm"'})
    user = outcome.user
    record_login_success(user, method="token-exchange" + ("+totp" if outcome.needs_totp else ""))
    expires_at = timezone.now() + timedelta(days=data.expires_days) if data.expires_days else None
    token, secret = create_token(user, name=data.name or "API", actor=user, expires_at=expires_at)
    return Status(201, {**_token_out(token), "token": secret})


# --- users -------------------------------------------------------------------------------------


def _users_qs(request: AuthedRequest, filters: dict[str, Any]) -> Any:
    confirmed = TotpDevice.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False)
    return selectors.list_users(request.user, filters=filters).annotate(two_factor=Exists(confirmed))


def _user_out(user: User) -> dict[str, Any]:
    two_factor = getattr(user, "two_factor", None)
    if two_factor is None:
        two_factor = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "department_id": user.department_id,
        "department": user.department.name if user.department else None,
        "team_id": user.team_id,
        "team": user.team.name if user.team else None,
        "role_id": user.role_id,
        "role": user.role.code if user.role else None,
        "manager_of_id": user.manager_of_id,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "two_factor": bool(two_factor),
        "language": user.language,
        "time_zone": user.time_zone,
        "last_login": user.last_login,
        "date_joined": user.date_joined,
        "version": user.version,
    }


def _reload_user(request: AuthedRequest, pk: int) -> dict[str, Any]:
    user = _users_qs(request, {}).filter(pk=pk).first() or User.objects.get(pk=pk)
    return _user_out(user)


@router.get("/users", response=UserPage, summary="Users the caller may see")
def list_users(
    request: AuthedRequest,
    cursor: str | None = None,
    limit: int = 50,
    q: str | None = None,
    department: int | None = None,
    team: int | None = None,
    role: int | None = None,
    is_active: bool | None = None,
) -> Any:
    filters = {"q": q, "department": department, "team": team, "role": role, "is_active": is_active}
    rows, next_cursor = paginate(_users_qs(request, filters), cursor=cursor, limit=limit, ordering=["username", "id"])
    return {"items": [_user_out(u) for u in rows], "next_cursor": next_cursor}


@router.get("/users/{user_id}", response=UserOut)
def get_user(request: AuthedRequest, user_id: int) -> Any:
    selectors.get_user_for(request.user, user_id)  # 404 when missing or not visible
    return _reload_user(request, user_id)


@router.post("/users", response={201: UserOut})
def create_user(request: AuthedRequest, data: UserIn) -> Any:
    actor = request.user
    user = services.create_user(
        actor=actor,
        username=data.username,
        password=data.password,
        email=data.email,
        display_name=data.display_name,
        first_name=data.first_name,
        last_name=data.last_name,
        department=_lookup(actor, Department, data.department_id, "department_id"),
        team=_lookup(actor, Team, data.team_id, "team_id"),
        role=_lookup(actor, Role, data.role_id, "role_id"),
        manager_of=_lookup(actor, Team, data.manager_of_id, "manager_of_id"),
        language=data.language,
        time_zone=data.time_zone,
        is_superuser=data.is_superuser,
    )
    return Status(201, _reload_user(request, user.pk))


@router.patch("/users/{user_id}", response=UserOut)
def patch_user(request: AuthedRequest, user_id: int, data: UserPatch) -> Any:
    actor = request.user
    given = data.model_dump(exclude_unset=True)
    version = _version(request, given.pop("version", None))
    active = given.pop("is_active", None)
    changes: dict[str, Any] = {}
    relations = {"department_id": Department, "team_id": Team, "role_id": Role, "manager_of_id": Team}
    for key, value in given.items():
        if key in relations:
            changes[key.removesuffix("_id")] = _lookup(actor, relations[key], value, key)
        elif value is None:
            raise ValidationFailed(_("The data is not valid"), errors={key: [_("This field cannot be empty.")]})
        else:
            changes[key] = value
    services.update_user(user_id, actor=actor, version=version, **changes)
    if active is not None:
        services.set_user_active(user_id, actor=actor, active=active)
    return _reload_user(request, user_id)


@router.post("/users/{user_id}/disable", response=UserOut, summary="Disable: ends sessions and tokens at once")
def disable_user(request: AuthedRequest, user_id: int) -> Any:
    services.set_user_active(user_id, actor=request.user, active=False)
    return _reload_user(request, user_id)


@router.post("/users/{user_id}/enable", response=UserOut)
def enable_user(request: AuthedRequest, user_id: int) -> Any:
    services.set_user_active(user_id, actor=request.user, active=True)
    return _reload_user(request, user_id)


@router.post("/users/{user_id}/password", response={204: None}, summary="Set a new password; ends sessions")
def set_password(request: AuthedRequest, user_id: int, data: PasswordIn) -> Any:
    services.set_password(user_id, actor=request.user, password=data.password)
    return Status(204, None)


@router.post("/users/{user_id}/logout-everywhere", response={204: None}, summary="End every session of the user")
def logout_everywhere(request: AuthedRequest, user_id: int) -> Any:
    services.logout_everywhere(user_id, actor=request.user)
    return Status(204, None)


# --- departments and teams ---------------------------------------------------------------------


def _department_out(d: Department) -> dict[str, Any]:
    return {"id": d.pk, "name": d.name, "code": d.code, "version": d.version}


@router.get("/departments", response=DepartmentPage)
def list_departments(request: AuthedRequest, cursor: str | None = None, limit: int = 50) -> Any:
    qs = selectors.list_departments(request.user)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, ordering=["id"])
    return {"items": [_department_out(d) for d in rows], "next_cursor": next_cursor}


@router.get("/departments/{department_id}", response=DepartmentOut)
def get_department(request: AuthedRequest, department_id: int) -> Any:
    return _department_out(selectors.get_department_for(request.user, department_id))


@router.post("/departments", response={201: DepartmentOut})
def create_department(request: AuthedRequest, data: DepartmentIn) -> Any:
    department = services.create_department(actor=request.user, name=data.name, code=data.code)
    return Status(201, _department_out(department))


@router.patch("/departments/{department_id}", response=DepartmentOut)
def patch_department(request: AuthedRequest, department_id: int, data: DepartmentPatch) -> Any:
    given = data.model_dump(exclude_unset=True)
    version = _version(request, given.pop("version", None))
    department = services.update_department(department_id, actor=request.user, version=version, **given)
    return _department_out(department)


@router.delete("/departments/{department_id}", response={204: None})
def delete_department(request: AuthedRequest, department_id: int) -> Any:
    services.delete_department(department_id, actor=request.user)
    return Status(204, None)


def _team_out(t: Team) -> dict[str, Any]:
    return {
        "id": t.pk,
        "name": t.name,
        "department_id": t.department_id,
        "department": t.department.name,
        "version": t.version,
    }


@router.get("/teams", response=TeamPage)
def list_teams(
    request: AuthedRequest, cursor: str | None = None, limit: int = 50, department: int | None = None
) -> Any:
    qs = selectors.list_teams(request.user, department=department)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, ordering=["id"])
    return {"items": [_team_out(t) for t in rows], "next_cursor": next_cursor}


@router.get("/teams/{team_id}", response=TeamOut)
def get_team(request: AuthedRequest, team_id: int) -> Any:
    return _team_out(selectors.get_team_for(request.user, team_id))


@router.post("/teams", response={201: TeamOut})
def create_team(request: AuthedRequest, data: TeamIn) -> Any:
    department = _lookup(request.user, Department, data.department_id, "department_id")
    team = services.create_team(actor=request.user, department=department, name=data.name)
    return Status(201, _team_out(team))


@router.patch("/teams/{team_id}", response=TeamOut)
def patch_team(request: AuthedRequest, team_id: int, data: TeamPatch) -> Any:
    given = data.model_dump(exclude_unset=True)
    version = _version(request, given.pop("version", None))
    department = None
    if given.get("department_id") is not None:
        department = _lookup(request.user, Department, given["department_id"], "department_id")
    team = services.update_team(
        team_id, actor=request.user, version=version, name=given.get("name"), department=department
    )
    return _team_out(team)


@router.delete("/teams/{team_id}", response={204: None})
def delete_team(request: AuthedRequest, team_id: int) -> Any:
    services.delete_team(team_id, actor=request.user)
    return Status(204, None)


# --- roles ---------------------------------------------------------------------------------------


def _role_out(role: Role) -> dict[str, Any]:
    return {
        "id": role.pk,
        "name": role.name,
        "code": role.code,
        "description": role.description,
        "is_builtin": role.is_builtin,
        "grants": services.grants_of(role),
        "field_rules": services.field_rules_of(role),
        "version": role.version,
    }


@router.get("/roles", response=RolePage, summary="Roles with their grants and field rules")
def list_roles(request: AuthedRequest, cursor: str | None = None, limit: int = 50) -> Any:
    rows, next_cursor = paginate(selectors.list_roles(request.user), cursor=cursor, limit=limit, ordering=["id"])
    return {"items": [_role_out(r) for r in rows], "next_cursor": next_cursor}


@router.get("/roles/{role_id}", response=RoleOut)
def get_role(request: AuthedRequest, role_id: int) -> Any:
    return _role_out(selectors.get_role_for(request.user, role_id))


@router.post("/roles", response={201: RoleOut})
def create_role(request: AuthedRequest, data: RoleIn) -> Any:
    role = services.create_role(
        actor=request.user,
        name=data.name,
        code=data.code,
        description=data.description,
        grants=data.grants,
        field_rules=data.field_rules,
    )
    return Status(201, _role_out(selectors.get_role_for(request.user, role.pk)))


@router.patch("/roles/{role_id}", response=RoleOut)
def patch_role(request: AuthedRequest, role_id: int, data: RolePatch) -> Any:
    given = data.model_dump(exclude_unset=True)
    version = _version(request, given.pop("version", None))
    services.update_role(role_id, actor=request.user, version=version, **given)
    return _role_out(selectors.get_role_for(request.user, role_id))


@router.delete("/roles/{role_id}", response={204: None})
def delete_role(request: AuthedRequest, role_id: int) -> Any:
    services.delete_role(role_id, actor=request.user)
    return Status(204, None)


# --- tokens --------------------------------------------------------------------------------------


@router.get("/tokens", response=TokenPage, summary="Own tokens; administrators add ?all=true for every token")
def list_tokens(request: AuthedRequest, cursor: str | None = None, limit: int = 50, all: bool = False) -> Any:
    qs = selectors.tokens_for(request.user, all_users=all)
    rows, next_cursor = paginate(qs, cursor=cursor, limit=limit, ordering=["-id"])
    return {"items": [_token_out(t) for t in rows], "next_cursor": next_cursor}


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Create an own token; the secret is shown once")
def create_own_token(request: AuthedRequest, data: TokenIn) -> Any:
    user = request.user
    if not user.token_allows("identity.apitoken", "create"):
        raise Forbidden(_("This token may not create tokens."))
    expires_at = data.expires_at
    if expires_at is None and data.expires_days:
        expires_at = timezone.now() + timedelta(days=data.expires_days)
    # A token made with a scoped token can never be wider than it.
    current = user.__dict__.get("api_token")
    scopes = data.scopes or (list(current.scopes) if current is not None and current.scopes else [])
    token, secret = create_token(user, name=data.name, actor=user, expires_at=expires_at, scopes=scopes)
    return Status(201, {**_token_out(token), "token": secret})


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke a token at once")
def revoke(request: AuthedRequest, token_id: int) -> Any:
    token = selectors.get_token_for(request.user, token_id, "delete")
    revoke_token(token, actor=request.user)
    return Status(204, None)


ROUTERS = [("", router)]
