"""Every write to users, departments, teams and roles: keyword-only `actor`, atomic, audited.

Permission rules that the access layer's scopes cannot express live here, so pages, API and CLI
share them: only administrators change roles or grant superuser, only superusers touch superusers,
built-in roles' grants are fixed in code (builtin_roles.py), nobody disables or demotes themself.
`actor=None` means the system (CLI, demo data): it may do everything.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from crm.core.access import VERBS, Scope, get_for, has_verb, registered_models
from crm.core.audit import MASK, diff, record_audit, snapshot
from crm.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, check_version
from crm.identity.models import ApiToken, Department, Role, RoleFieldRule, RolePermission, Team, User

M = TypeVar("M", bound=models.Model)

USER_FIELDS = (
    "username",
    "email",
    "display_name",
    "first_name",
    "last_name",
    "department",
    "team",
    "role",
    "manager_of",
    "language",
    "time_zone",
    "is_active",
    "is_superuser",
)
USER_EDITABLE = tuple(f for f in USER_FIELDS if f not in {"username", "is_active"})
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


# --- checks shared by every entry point ----------------------------------------------------


def _is_system(actor: User | None) -> bool:
    return actor is None


def require_verb(actor: User | None, verb: str, model: type[models.Model]) -> None:
    """403 unless the actor holds `verb` on `model` at some scope (creates have no record yet)."""
    if _is_system(actor):
        return
    if not has_verb(actor, verb, model):
        raise Forbidden(_("You may not do this."))


def _locked(actor: User | None, verb: str, model: type[M], pk: Any) -> M:
    """The row for update, if the actor may `verb` it; NotFound otherwise (missing and forbidden alike)."""
    qs = model._default_manager.select_for_update()
    if _is_system(actor):
        try:
            return qs.get(pk=pk)
        except models.ObjectDoesNotExist as exc:
            raise NotFound() from exc
    return get_for(actor, verb, qs, pk)


def _bump(obj: Any) -> None:
    obj.version = (obj.version or 0) + 1


def _validation_error(errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(_("The data is not valid"), errors=errors)


def _is_admin(actor: User | None) -> bool:
    """Administrators, and roles granting change on every role, may assign roles and edit grants."""
    if actor is None:
        return True
    if not actor.token_allows("identity.role", "change"):
        return False
    return actor.is_administrator or actor.access_scope("identity.role", "change") == Scope.ALL


# --- users ---------------------------------------------------------------------------------


def _clean_user_fields(user: User, data: Mapping[str, Any], actor: User | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "username" in data:
        username = str(data["username"] or "").strip()
        try:
            UnicodeUsernameValidator()(username)
            if not username or len(username) > 150:
                raise ValidationError(_("Enter 1 to 150 characters."))
        except ValidationError as exc:
            errors["username"] = [str(m) for m in exc.messages]
        else:
            if User.objects.filter(username__iexact=username).exclude(pk=user.pk).exists():
                errors["username"] = [_("This username is taken.")]
    if data.get("language") and data["language"] not in LANGUAGE_CODES:
        errors["language"] = [_("Choose one of: %(codes)s.") % {"codes": ", ".join(sorted(LANGUAGE_CODES))}]
    if data.get("time_zone"):
        try:
            zoneinfo.ZoneInfo(str(data["time_zone"]))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors["time_zone"] = [_("Unknown time zone, e.g. Asia/Shanghai.")]
    if data.get("email"):
        from django.core.validators import validate_email

        try:
            validate_email(data["email"])
        except ValidationError:
            errors["email"] = [_("Enter a valid e-mail address.")]
    team = data.get("team", user.team if user.pk else None)
    department = data.get("department", user.department if user.pk else None)
    if team is not None and department is not None and team.department_id != department.pk:
        errors["team"] = [_("The team belongs to another department.")]
    if actor is not None:
        errors.update(_authority_errors(user, data, actor))
    if actor is not None and "is_superuser" in data and bool(data["is_superuser"]) != user.is_superuser:
        if not actor.is_superuser:
            errors["is_superuser"] = [_("Only superusers may grant or remove superuser rights.")]
        elif actor.pk == user.pk:
            errors["is_superuser"] = [_("You cannot remove your own superuser rights.")]
    return errors


def _authority_errors(user: User, data: Mapping[str, Any], actor: User) -> dict[str, list[str]]:
    """Changes that widen what someone sees need more than a grant on identity.user.

    Role, managed team and superuser: administrators only, and never on oneself. Department and team:
    administrators, or a role changing users company-wide, for other users only.
    """
    errors: dict[str, list[str]] = {}
    admin = _is_admin(actor)
    hr = admin or actor.access_scope("identity.user", "change") == Scope.ALL
    current = {name: getattr(user, name) if user.pk else None for name in ("role", "manager_of", "department", "team")}
    for name in ("role", "manager_of"):
        if name in data and data[name] != current[name]:
            if not admin:
                errors[name] = [_("Only administrators may change this.")]
            elif actor.pk == user.pk:
                errors[name] = [_("You cannot change this for your own account.")]
    for name in ("department", "team"):
        if name in data and data[name] != current[name] and (not hr or actor.pk == user.pk):
            errors[name] = [_("Only administrators may move users between departments and teams.")]
    if data.get("is_superuser") and not (user.pk and user.is_superuser) and not admin:
        errors["is_superuser"] = [_("Only administrators may do this.")]
    return errors


def _check_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(_("Choose a stronger password."), errors={"password": list(exc.messages)}) from exc


def _guard_superuser_target(user: User, actor: User | None) -> None:
    if actor is not None and user.is_superuser and not actor.is_superuser:
        raise NotFound()


def create_user(
    *,
    actor: User | None,
    username: str,
    password: str | None = None,
    **fields: Any,
) -> User:
    """A new user; without a password the account cannot log in until one is set."""
    require_verb(actor, "create", User)
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise _validation_error({name: [_("Unknown field.")] for name in sorted(unknown)})
    user = User(username=(username or "").strip())
    data = {"username": user.username, **fields}
    if data.get("team") is not None and data.get("department") is None:
        data["department"] = data["team"].department
    errors = _clean_user_fields(user, data, actor)
    if errors:
        raise _validation_error(errors)
    for name, value in data.items():
        setattr(user, name, value)
    user.is_staff = bool(user.is_superuser)
    if password:
        _check_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.rotate_security_stamp()
    try:
        with transaction.atomic():
            user.save()
            record_audit(actor=actor, verb="create", obj=user, changes=diff({}, snapshot(user, USER_FIELDS)))
    except IntegrityError as exc:
        raise _validation_error({"username": [_("This username is taken.")]}) from exc
    return user


def update_user(user_id: int, *, actor: User | None, version: int | None = None, **changes: Any) -> User:
    unknown = set(changes) - set(USER_EDITABLE)
    if unknown:
        raise _validation_error({name: [_("This field cannot be changed here.")] for name in sorted(unknown)})
    with transaction.atomic():
        user = _locked(actor, "change", User, user_id)
        _guard_superuser_target(user, actor)
        check_version(user.version, version)
        data = dict(changes)
        if "team" in data and data["team"] is not None and "department" not in data:
            data["department"] = data["team"].department
        errors = _clean_user_fields(user, data, actor)
        if errors:
            raise _validation_error(errors)
        before = snapshot(user, USER_FIELDS)
        for name, value in data.items():
            setattr(user, name, value)
        user.is_staff = bool(user.is_superuser)
        after = snapshot(user, USER_FIELDS)
        changed = diff(before, after)
        if not changed:
            return user
        _bump(user)
        user.save()
        record_audit(actor=actor, verb="change", obj=user, changes=changed)
        if "role" in changed or "is_superuser" in changed:
            record_audit(
                actor=actor,
                verb="role.change",
                obj=user,
                changes={k: v for k, v in changed.items() if k in {"role", "is_superuser"}},
            )
    return user


def set_user_active(user_id: int, *, actor: User | None, active: bool) -> User:
    """Disable (ends every session and token at once) or re-enable a user."""
    with transaction.atomic():
        user = _locked(actor, "change", User, user_id)
        _guard_superuser_target(user, actor)
        if actor is not None and actor.pk == user.pk and not active:
            raise ValidationFailed(_("You cannot disable your own account."))
        if user.is_active == active:
            return user
        user.is_active = active
        user.rotate_security_stamp()
        _bump(user)
        user.save(update_fields=["is_active", "security_stamp", "version"])
        revoked = 0
        if not active:
            revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        record_audit(
            actor=actor,
            verb="change",
            obj=user,
            changes={"is_active": {"before": not active, "after": active}},
            extra={"sessions_ended": not active, "tokens_revoked": revoked},
        )
    return user


def set_password(user_id: int, *, actor: User | None, password: str) -> User:
    """An administrator sets a new password: every session of the user ends."""
    with transaction.atomic():
        user = _locked(actor, "change", User, user_id)
        _guard_superuser_target(user, actor)
        _check_password(password, user)
        user.set_password(password)
        user.rotate_security_stamp()
        _bump(user)
        user.save(update_fields=["password", "security_stamp", "version"])
        record_audit(actor=actor, verb="change", obj=user, changes={"password": {"before": MASK, "after": MASK}})
    return user


def change_own_password(user: User, *, old_password: str, new_password: str) -> User:
    """The user changes their password; other sessions end (the caller keeps the current one)."""
    if not user.check_password(old_password or ""):
        raise ValidationFailed(
            _("The current password is not correct."),
            errors={"old_password": [_("The current password is not correct.")]},
        )
    _check_password(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.rotate_security_stamp()
        _bump(user)
        user.save(update_fields=["password", "security_stamp", "version"])
        record_audit(actor=user, verb="change", obj=user, changes={"password": {"before": MASK, "after": MASK}})
    return user


def logout_everywhere(user_id: int, *, actor: User | None) -> User:
    """End every session of the user (the user themself, or whoever may change the user)."""
    with transaction.atomic():
        if actor is not None and actor.pk == user_id:
            user = User.objects.select_for_update().get(pk=user_id)
        else:
            user = _locked(actor, "change", User, user_id)
            _guard_superuser_target(user, actor)
        user.rotate_security_stamp()
        user.save(update_fields=["security_stamp"])
        record_audit(actor=actor, verb="logout.everywhere", obj=user)
    return user


def update_profile(user: User, *, language: str, time_zone: str, display_name: str | None = None) -> User:
    """What every user may change about themself."""
    data: dict[str, Any] = {"language": language or "", "time_zone": time_zone or ""}
    if display_name is not None:
        data["display_name"] = display_name.strip()[:150]
    errors = _clean_user_fields(user, data, None)
    if errors:
        raise _validation_error(errors)
    with transaction.atomic():
        before = snapshot(user, list(data))
        for name, value in data.items():
            setattr(user, name, value)
        changed = diff(before, snapshot(user, list(data)))
        if changed:
            _bump(user)
            user.save(update_fields=[*data, "version"])
            record_audit(actor=user, verb="change", obj=user, changes=changed)
    return user


# --- departments and teams -------------------------------------------------------------------


def _clean_code(code: str | None, name: str, fallback_prefix: str) -> str:
    """The given code, else one made from the name; Chinese names get a short random code."""
    import secrets

    if code:
        return slugify(code)
    return slugify(name) or f"{fallback_prefix}-{secrets.token_hex(3)}"


def create_department(*, actor: User | None, name: str, code: str = "") -> Department:
    require_verb(actor, "create", Department)
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = [_("Enter 1 to 100 characters.")]
    code = _clean_code(code, name, "dept")
    if not code:
        errors["code"] = [_("Enter a code of letters, digits and hyphens, e.g. sales.")]
    if name and Department.objects.filter(name=name).exists():
        errors["name"] = [_("A department with this name exists.")]
    if code and Department.objects.filter(code=code).exists():
        errors["code"] = [_("A department with this code exists.")]
    if errors:
        raise _validation_error(errors)
    with transaction.atomic():
        department = Department.objects.create(name=name, code=code[:40])
        record_audit(
            actor=actor, verb="create", obj=department, changes=diff({}, snapshot(department, ["name", "code"]))
        )
    return department


def update_department(
    department_id: int,
    *,
    actor: User | None,
    version: int | None = None,
    name: str | None = None,
    code: str | None = None,
) -> Department:
    with transaction.atomic():
        department = _locked(actor, "change", Department, department_id)
        check_version(department.version, version)
        before = snapshot(department, ["name", "code"])
        errors: dict[str, list[str]] = {}
        if name is not None:
            name = name.strip()
            if not name or len(name) > 100:
                errors["name"] = [_("Enter 1 to 100 characters.")]
            elif Department.objects.filter(name=name).exclude(pk=department.pk).exists():
                errors["name"] = [_("A department with this name exists.")]
            department.name = name
        if code is not None:
            code = slugify(code)
            if not code:
                errors["code"] = [_("Enter a code of letters, digits and hyphens, e.g. sales.")]
            elif Department.objects.filter(code=code).exclude(pk=department.pk).exists():
                errors["code"] = [_("A department with this code exists.")]
            department.code = code[:40]
        if errors:
            raise _validation_error(errors)
        changed = diff(before, snapshot(department, ["name", "code"]))
        if changed:
            _bump(department)
            department.save()
            record_audit(actor=actor, verb="change", obj=department, changes=changed)
    return department


def delete_department(department_id: int, *, actor: User | None) -> None:
    with transaction.atomic():
        department = _locked(actor, "delete", Department, department_id)
        if department.members.exists() or department.teams.exists():
            raise Conflict(_("The department still has teams or members; move them first."))
        record_audit(
            actor=actor, verb="delete", obj=department, changes=diff(snapshot(department, ["name", "code"]), {})
        )
        department.delete()


def create_team(*, actor: User | None, department: Department, name: str) -> Team:
    require_verb(actor, "create", Team)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise _validation_error({"name": [_("Enter 1 to 100 characters.")]})
    if Team.objects.filter(department=department, name=name).exists():
        raise _validation_error({"name": [_("The department already has a team with this name.")]})
    with transaction.atomic():
        team = Team.objects.create(department=department, name=name)
        record_audit(actor=actor, verb="create", obj=team, changes=diff({}, snapshot(team, ["department", "name"])))
    return team


def update_team(
    team_id: int,
    *,
    actor: User | None,
    version: int | None = None,
    name: str | None = None,
    department: Department | None = None,
) -> Team:
    with transaction.atomic():
        team = _locked(actor, "change", Team, team_id)
        check_version(team.version, version)
        before = snapshot(team, ["department", "name"])
        if name is not None:
            name = name.strip()
            if not name or len(name) > 100:
                raise _validation_error({"name": [_("Enter 1 to 100 characters.")]})
            team.name = name
        if department is not None and department.pk != team.department_id:
            if team.members.exists():
                raise _validation_error({"department": [_("Move the team's members before moving the team.")]})
            team.department = department
        if Team.objects.filter(department_id=team.department_id, name=team.name).exclude(pk=team.pk).exists():
            raise _validation_error({"name": [_("The department already has a team with this name.")]})
        changed = diff(before, snapshot(team, ["department", "name"]))
        if changed:
            _bump(team)
            team.save()
            record_audit(actor=actor, verb="change", obj=team, changes=changed)
    return team


def delete_team(team_id: int, *, actor: User | None) -> None:
    with transaction.atomic():
        team = _locked(actor, "delete", Team, team_id)
        if team.members.exists():
            raise Conflict(_("The team still has members; move them first."))
        record_audit(actor=actor, verb="delete", obj=team, changes=diff(snapshot(team, ["department", "name"]), {}))
        team.delete()


# --- roles, grants, field rules -------------------------------------------------------------


def object_types() -> list[str]:
    """Every object type registered with the access layer: what a role can grant verbs on."""
    return sorted(model._meta.label_lower for model in registered_models())


def fields_of(object_type: str) -> list[str]:
    for model in registered_models():
        if model._meta.label_lower == object_type:
            return [f.name for f in model._meta.concrete_fields if f.name != "id"]
    return []


def grants_of(role: Role) -> dict[str, dict[str, str]]:
    grants: dict[str, dict[str, str]] = {}
    for perm in role.permissions.all():
        grants.setdefault(perm.object_type, {})[perm.verb] = Scope(perm.scope).name.lower()
    return grants


def field_rules_of(role: Role) -> dict[str, dict[str, str]]:
    rules: dict[str, dict[str, str]] = {}
    for rule in role.field_rules.all():
        rules.setdefault(rule.object_type, {})[rule.field] = rule.mode
    return rules


def _parse_grants(grants: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], int]:
    known = set(object_types())
    errors: dict[str, list[str]] = {}
    wanted: dict[tuple[str, str], int] = {}
    scopes = {s.name.lower(): s for s in Scope}
    for object_type, verbs in grants.items():
        if object_type not in known:
            errors[f"grants.{object_type}"] = [_("Unknown object type.")]
            continue
        if not isinstance(verbs, Mapping):
            errors[f"grants.{object_type}"] = [_("Send an object of verb: scope.")]
            continue
        for verb, scope in verbs.items():
            if verb not in VERBS:
                errors[f"grants.{object_type}.{verb}"] = [_("Unknown verb.")]
                continue
            if scope in (None, "", "none"):
                continue
            value = scopes.get(str(scope).lower())
            if value is None:
                errors[f"grants.{object_type}.{verb}"] = [_("Use one of: own, team, department, all.")]
                continue
            wanted[(object_type, verb)] = int(value)
    if errors:
        raise _validation_error(errors)
    return wanted


def _parse_field_rules(rules: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    errors: dict[str, list[str]] = {}
    wanted: dict[tuple[str, str], str] = {}
    modes = {RoleFieldRule.HIDDEN, RoleFieldRule.READ_ONLY}
    known = set(object_types())
    for object_type, fields in rules.items():
        if object_type not in known or not isinstance(fields, Mapping):
            errors[f"field_rules.{object_type}"] = [_("Unknown object type.")]
            continue
        names = set(fields_of(object_type))
        for field, mode in fields.items():
            if field not in names:
                errors[f"field_rules.{object_type}.{field}"] = [_("Unknown field.")]
            elif mode in (None, "", "none"):
                continue
            elif mode not in modes:
                errors[f"field_rules.{object_type}.{field}"] = [_("Use hidden or read_only.")]
            else:
                wanted[(object_type, field)] = str(mode)
    if errors:
        raise _validation_error(errors)
    return wanted


def may_manage_roles(actor: User | None) -> bool:
    return _is_admin(actor)


def _require_admin(actor: User | None) -> None:
    if not _is_admin(actor):
        raise Forbidden(_("Only administrators may change roles and permissions."))


def _apply_grants(role: Role, wanted: dict[tuple[str, str], int], actor: User | None) -> None:
    before = {f"{p.object_type}:{p.verb}": Scope(p.scope).name.lower() for p in role.permissions.all()}
    RolePermission.objects.filter(role=role).delete()
    RolePermission.objects.bulk_create(
        [RolePermission(role=role, object_type=ot, verb=verb, scope=scope) for (ot, verb), scope in wanted.items()]
    )
    after = {f"{ot}:{verb}": Scope(scope).name.lower() for (ot, verb), scope in wanted.items()}
    changed = diff(before, after)
    if changed:
        record_audit(actor=actor, verb="permission.change", obj=role, changes=changed, extra={"kind": "grants"})


def _apply_field_rules(role: Role, wanted: dict[tuple[str, str], str], actor: User | None) -> None:
    before = {f"{r.object_type}.{r.field}": r.mode for r in role.field_rules.all()}
    RoleFieldRule.objects.filter(role=role).delete()
    RoleFieldRule.objects.bulk_create(
        [RoleFieldRule(role=role, object_type=ot, field=field, mode=mode) for (ot, field), mode in wanted.items()]
    )
    after = {f"{ot}.{field}": mode for (ot, field), mode in wanted.items()}
    changed = diff(before, after)
    if changed:
        record_audit(actor=actor, verb="permission.change", obj=role, changes=changed, extra={"kind": "field_rules"})


def create_role(
    *,
    actor: User | None,
    name: str,
    code: str = "",
    description: str = "",
    grants: Mapping[str, Mapping[str, Any]] | None = None,
    field_rules: Mapping[str, Mapping[str, Any]] | None = None,
) -> Role:
    _require_admin(actor)
    require_verb(actor, "create", Role)
    name = (name or "").strip()
    code = _clean_code(code, name, "role")
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = [_("Enter 1 to 100 characters.")]
    elif Role.objects.filter(name=name).exists():
        errors["name"] = [_("A role with this name exists.")]
    if not code:
        errors["code"] = [_("Enter a code of letters, digits and hyphens, e.g. sales-lead.")]
    elif Role.objects.filter(code=code[:40]).exists():
        errors["code"] = [_("A role with this code exists.")]
    if len(description or "") > 300:
        errors["description"] = [_("Enter at most 300 characters.")]
    if errors:
        raise _validation_error(errors)
    wanted_grants = _parse_grants(grants or {})
    wanted_rules = _parse_field_rules(field_rules or {})
    with transaction.atomic():
        role = Role.objects.create(name=name, code=code[:40], description=description or "", is_builtin=False)
        record_audit(actor=actor, verb="role.change", obj=role, changes=diff({}, snapshot(role, ["name", "code"])))
        _apply_grants(role, wanted_grants, actor)
        _apply_field_rules(role, wanted_rules, actor)
    return role


def update_role(
    role_id: int,
    *,
    actor: User | None,
    version: int | None = None,
    name: str | None = None,
    description: str | None = None,
    grants: Mapping[str, Mapping[str, Any]] | None = None,
    field_rules: Mapping[str, Mapping[str, Any]] | None = None,
) -> Role:
    """Change a role; `grants`/`field_rules`, when given, replace the role's whole table."""
    _require_admin(actor)
    with transaction.atomic():
        role = _locked(actor, "change", Role, role_id)
        check_version(role.version, version)
        if role.is_builtin and (grants is not None or name is not None):
            raise Conflict(_("Built-in roles are defined in code; create a custom role to grant other rights."))
        before = snapshot(role, ["name", "description"])
        if name is not None:
            name = name.strip()
            if not name or len(name) > 100:
                raise _validation_error({"name": [_("Enter 1 to 100 characters.")]})
            if Role.objects.filter(name=name).exclude(pk=role.pk).exists():
                raise _validation_error({"name": [_("A role with this name exists.")]})
            role.name = name
        if description is not None:
            if len(description) > 300:
                raise _validation_error({"description": [_("Enter at most 300 characters.")]})
            role.description = description
        wanted_grants = _parse_grants(grants) if grants is not None else None
        wanted_rules = _parse_field_rules(field_rules) if field_rules is not None else None
        changed = diff(before, snapshot(role, ["name", "description"]))
        _bump(role)
        role.save()
        if changed:
            record_audit(actor=actor, verb="role.change", obj=role, changes=changed)
        if wanted_grants is not None:
            _apply_grants(role, wanted_grants, actor)
        if wanted_rules is not None:
            _apply_field_rules(role, wanted_rules, actor)
    return role


def delete_role(role_id: int, *, actor: User | None) -> None:
    _require_admin(actor)
    with transaction.atomic():
        role = _locked(actor, "delete", Role, role_id)
        if role.is_builtin:
            raise Conflict(_("Built-in roles cannot be deleted."))
        if role.users.exists():
            raise Conflict(_("Users still hold this role; give them another role first."))
        record_audit(actor=actor, verb="role.change", obj=role, changes=diff(snapshot(role, ["name", "code"]), {}))
        role.delete()
