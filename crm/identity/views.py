"""Identity pages: login (with TOTP), logout, profile, and the administration of users and roles.

Function views over the same selectors and services as the API; they work without JavaScript and
htmx only swaps the user table while searching.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.core.access import VERBS, can, has_verb
from crm.core.errors import DomainError, NotFound
from crm.identity import authentication, selectors, services
from crm.identity.forms import (
    FIELD_RULE_CHOICES,
    SCOPE_CHOICES,
    CodeForm,
    DepartmentForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RoleForm,
    SetPasswordForm,
    TeamForm,
    TokenForm,
    UserForm,
)
from crm.identity.http import AuthedRequest
from crm.identity.models import ApiToken, Department, Role, User
from crm.identity.tokens import create_token, revoke_token

PENDING_KEY = "identity_pending_login"
PENDING_MAX_AGE = 300  # seconds between the password step and the code
NEW_TOKEN_KEY = "identity_new_token"  # noqa: S105 - a session key name, not a secret

View = Callable[..., HttpResponse]


def _apply_errors(form: forms.Form, exc: DomainError) -> None:
    """Put a service's field errors on the form; the rest becomes a form-wide error."""
    placed = False
    for field, errors in exc.errors.items():
        name = field.removesuffix("_id")
        for message in errors:
            if name in form.fields:
                form.add_error(name, message)
                placed = True
            else:
                form.add_error(None, message)
                placed = True
    if not placed:
        form.add_error(None, str(exc.detail or exc.title))


def _safe_next(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(value, {request.get_host()}, require_https=request.is_secure()):
        return value
    return reverse(settings.LOGIN_REDIRECT_URL)


# --- login / logout -----------------------------------------------------------------------------


def _finish_login(request: HttpRequest, user: User, method: str, next_url: str) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.set_expiry(settings.SESSION_COOKIE_AGE)
    authentication.record_login_success(user, method=method)
    return HttpResponseRedirect(next_url)


def _pending_user(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    """The user who passed the password step in this session, if recent and still valid."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_MAX_AGE:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=int(pending.get("uid") or 0), is_active=True).first()
    if user is None or user.get_session_auth_hash() != pending.get("hash"):
        request.session.pop(PENDING_KEY, None)
        return None
    return user, pending


def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated:
        return HttpResponseRedirect(next_url)
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            outcome = authentication.check_password_login(
                form.cleaned_data["username"], form.cleaned_data["password"], request=request
            )
        except authentication.LoginLocked as exc:
            form.add_error(None, str(exc.detail))
            status = 429
        except authentication.LoginFailed as exc:
            form.add_error(None, str(exc.detail))
            status = 401
        else:
            user = outcome.user
            if not outcome.needs_totp and not outcome.must_enrol:
                return _finish_login(request, user, "password", next_url)
            request.session.cycle_key()
            request.session[PENDING_KEY] = {
                "uid": user.pk,
                "hash": user.get_session_auth_hash(),
                "at": time.time(),
                "next": next_url,
            }
            return redirect("identity:login-enrol" if outcome.must_enrol else "identity:login-verify")
    return render(request, "identity/login.html", {"form": form, "next": next_url}, status=status)


def login_verify_view(request: HttpRequest) -> HttpResponse:
    found = _pending_user(request)
    if found is None:
        return redirect("web:login")
    user, pending = found
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            authentication.check_totp_login(user, form.cleaned_data["code"])
        except authentication.LoginLocked as exc:
            request.session.pop(PENDING_KEY, None)
            messages.error(request, str(exc.detail))
            return redirect("web:login")
        except authentication.LoginFailed as exc:
            form.add_error("code", str(exc.detail))
            status = 401
        else:
            return _finish_login(request, user, "password+totp", pending.get("next") or "/")
    return render(request, "identity/login_verify.html", {"form": form}, status=status)


def login_enrol_view(request: HttpRequest) -> HttpResponse:
    """An administrator without TOTP (while CRM_REQUIRE_ADMIN_2FA) enrols before the login completes."""
    found = _pending_user(request)
    if found is None:
        return redirect("web:login")
    user, pending = found
    device = authentication.pending_device(user) or authentication.begin_totp_enrolment(user)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            authentication.confirm_totp_enrolment(user, form.cleaned_data["code"])
        except DomainError as exc:
            _apply_errors(form, exc)
            status = 422
        else:
            return _finish_login(request, user, "password+totp-enrolled", pending.get("next") or "/")
    return render(
        request, "identity/login_enrol.html", {"form": form, **_enrolment_context(user, device)}, status=status
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


# --- profile ------------------------------------------------------------------------------------


def _enrolment_context(user: User, device: Any) -> dict[str, Any]:
    uri = authentication.provisioning_uri(user, device.secret)
    # The SVG is generated by the qrcode library from our own URI: no user input reaches it unescaped.
    svg = authentication.qr_svg(uri)
    return {"qr_svg": mark_safe(svg), "totp_secret": device.secret, "totp_uri": uri}  # noqa: S308


def _profile_context(request: AuthedRequest, **forms_: Any) -> dict[str, Any]:
    user = request.user
    device = authentication.pending_device(user)
    context: dict[str, Any] = {
        "profile_form": forms_.get("profile_form")
        or ProfileForm(
            initial={"display_name": user.display_name, "language": user.language, "time_zone": user.time_zone}
        ),
        "password_form": forms_.get("password_form") or PasswordChangeForm(),
        "token_form": forms_.get("token_form") or TokenForm(),
        "code_form": forms_.get("code_form") or CodeForm(),
        "totp_on": authentication.confirmed_device(user) is not None,
        "totp_pending": device is not None,
        "tokens": selectors.tokens_for(user).order_by("-id")[:100],
        "new_token": request.session.pop(NEW_TOKEN_KEY, None),
        "admin_must_enrol": user.is_administrator and settings.REQUIRE_ADMIN_2FA,
    }
    if device is not None:
        context.update(_enrolment_context(user, device))
    return context


@login_required
def profile_view(request: AuthedRequest) -> HttpResponse:
    return render(request, "identity/profile.html", _profile_context(request))


@login_required
@require_POST
def profile_update_view(request: AuthedRequest) -> HttpResponse:
    form = ProfileForm(request.POST)
    if form.is_valid():
        try:
            services.update_profile(
                request.user,
                language=form.cleaned_data["language"],
                time_zone=form.cleaned_data["time_zone"],
                display_name=form.cleaned_data["display_name"],
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Your profile was saved."))
            response = redirect("identity:profile")
            if request.user.language:
                response.set_cookie(settings.LANGUAGE_COOKIE_NAME, request.user.language, samesite="Lax")
            return response
    return render(request, "identity/profile.html", _profile_context(request, profile_form=form), status=422)


@login_required
@require_POST
def password_change_view(request: AuthedRequest) -> HttpResponse:
    form = PasswordChangeForm(request.POST)
    if form.is_valid():
        try:
            services.change_own_password(
                request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except DomainError as exc:
            if "password" in exc.errors:
                exc.errors["new_password"] = exc.errors.pop("password")
            _apply_errors(form, exc)
        else:
            update_session_auth_hash(request, request.user)  # this session stays; every other one ends
            messages.success(request, _("Your password was changed. Other sessions were logged out."))
            return redirect("identity:profile")
    return render(request, "identity/profile.html", _profile_context(request, password_form=form), status=422)


@login_required
@require_POST
def totp_begin_view(request: AuthedRequest) -> HttpResponse:
    try:
        authentication.begin_totp_enrolment(request.user)
    except DomainError as exc:
        messages.error(request, str(exc.detail))
    return redirect(reverse("identity:profile") + "#two-factor")


@login_required
@require_POST
def totp_confirm_view(request: AuthedRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            authentication.confirm_totp_enrolment(request.user, form.cleaned_data["code"])
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("identity:profile")
    return render(request, "identity/profile.html", _profile_context(request, code_form=form), status=422)


@login_required
@require_POST
def totp_disable_view(request: AuthedRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            authentication.disable_totp(request.user, actor=request.user, code=form.cleaned_data["code"])
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Two-factor authentication is off."))
            return redirect("identity:profile")
    return render(request, "identity/profile.html", _profile_context(request, code_form=form), status=422)


@login_required
@require_POST
def token_create_view(request: AuthedRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if form.is_valid():
        days = form.cleaned_data.get("expires_days")
        try:
            _token, secret = create_token(
                request.user,
                name=form.cleaned_data["name"],
                actor=request.user,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                scopes=form.cleaned_data["scopes"],
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            # Shown once, on the next page only: then it is gone from the session too.
            request.session[NEW_TOKEN_KEY] = secret
            return redirect(reverse("identity:profile") + "#tokens")
    return render(request, "identity/profile.html", _profile_context(request, token_form=form), status=422)


@login_required
@require_POST
def token_revoke_view(request: AuthedRequest, token_id: int) -> HttpResponse:
    try:
        token = selectors.get_token_for(request.user, token_id, "delete")
    except NotFound as exc:
        raise Http404 from exc
    revoke_token(token, actor=request.user)
    messages.success(request, _("The token was revoked."))
    back = request.POST.get("back") or ""
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
        back = reverse("identity:profile") + "#tokens"
    return redirect(back)


@login_required
@require_POST
def logout_everywhere_view(request: AuthedRequest) -> HttpResponse:
    services.logout_everywhere(request.user.pk, actor=request.user)
    logout(request)
    return redirect("web:login")


# --- administration -----------------------------------------------------------------------------


def admin_view(view: View) -> View:
    """Pages of the administration: for users who may see users or roles at all (others: 404)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_administrator or has_verb(user, "view", User) or has_verb(user, "view", Role)):
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404 from exc

    return wrapper


def can_administer(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and (user.is_administrator or has_verb(user, "view", User) or has_verb(user, "view", Role))
    )


def admin_panel(request: HttpRequest) -> SafeString | None:
    """The identity card on the Administration landing page."""
    if not can_administer(request.user):
        return None
    from django.template.loader import render_to_string

    return mark_safe(render_to_string("identity/admin/_panel.html", request=request))  # noqa: S308


@admin_view
def users_view(request: AuthedRequest) -> HttpResponse:
    filters: dict[str, Any] = {"q": request.GET.get("q", ""), "is_active": None}
    if request.GET.get("status") in {"active", "disabled"}:
        filters["is_active"] = request.GET["status"] == "active"
    users = selectors.list_users(request.user, filters=filters).order_by("username")[:500]
    context = {
        "users": users,
        "q": filters["q"],
        "status": request.GET.get("status", ""),
        "may_create": has_verb(request.user, "create", User),
    }
    template = "identity/admin/users.html#table" if request.headers.get("HX-Request") else "identity/admin/users.html"
    return render(request, template, context)


def _user_kwargs(form: UserForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data.pop("password", None)
    data.pop("username", None)
    for key in ("display_name", "email", "time_zone", "language"):
        data[key] = data.get(key) or ""
    return data


@admin_view
def user_create_view(request: AuthedRequest) -> HttpResponse:
    form = UserForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.create_user(
                actor=request.user,
                username=form.cleaned_data["username"],
                password=form.cleaned_data.get("password") or None,
                **_user_kwargs(form),
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("User %(name)s was created.") % {"name": user.username})
            return redirect("identity:admin-user", user_id=user.pk)
    return render(request, "identity/admin/user_form.html", {"form": form, "creating": True})


@admin_view
def user_edit_view(request: AuthedRequest, user_id: int) -> HttpResponse:
    target = selectors.get_user_for(request.user, user_id)
    initial = {
        "display_name": target.display_name,
        "email": target.email,
        "department": target.department_id,
        "team": target.team_id,
        "manager_of": target.manager_of_id,
        "role": target.role_id,
        "language": target.language,
        "time_zone": target.time_zone,
        "is_superuser": target.is_superuser,
    }
    form = UserForm(request.POST or None, actor=request.user, editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_user(
                target.pk,
                actor=request.user,
                version=int(request.POST.get("version") or 0) or None,
                **_user_kwargs(form),
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("identity:admin-user", user_id=target.pk)
    context = {
        "form": form,
        "target": target,
        "password_form": SetPasswordForm(),
        "totp_on": authentication.confirmed_device(target) is not None,
        "tokens": ApiToken.objects.filter(user=target).order_by("-id")[:50],
        "may_change": can(request.user, "change", target),
    }
    return render(request, "identity/admin/user_form.html", context)


@admin_view
@require_POST
def user_action_view(request: AuthedRequest, user_id: int, action: str) -> HttpResponse:
    actor = request.user
    try:
        if action == "disable":
            services.set_user_active(user_id, actor=actor, active=False)
            messages.success(request, _("The user was disabled; their sessions and tokens ended."))
        elif action == "enable":
            services.set_user_active(user_id, actor=actor, active=True)
            messages.success(request, _("The user was enabled."))
        elif action == "logout":
            services.logout_everywhere(user_id, actor=actor)
            messages.success(request, _("Every session of the user was ended."))
        elif action == "password":
            form = SetPasswordForm(request.POST)
            if form.is_valid():
                services.set_password(user_id, actor=actor, password=form.cleaned_data["password"])
                messages.success(request, _("The password was set; the user's sessions ended."))
        elif action == "reset-totp":
            target = selectors.get_user_for(actor, user_id, "change")
            authentication.disable_totp(target, actor=actor, code=None)
            messages.success(request, _("Two-factor authentication was reset; the user enrols again."))
        else:
            raise Http404
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        for field_errors in exc.errors.values():
            for message in field_errors:
                messages.error(request, message)
        if not exc.errors:
            messages.error(request, str(exc.detail or exc.title))
    if actor.pk == user_id and action == "logout":
        logout(request)
        return redirect("web:login")
    return redirect("identity:admin-user", user_id=user_id)


@admin_view
def departments_view(request: AuthedRequest) -> HttpResponse:
    department_form = DepartmentForm(prefix="d")
    team_form = TeamForm(prefix="t", actor=request.user)
    if request.method == "POST":
        try:
            if "d-name" in request.POST:
                department_form = DepartmentForm(request.POST, prefix="d")
                if department_form.is_valid():
                    services.create_department(actor=request.user, **department_form.cleaned_data)
                    messages.success(request, _("The department was created."))
                    return redirect("identity:admin-departments")
            else:
                team_form = TeamForm(request.POST, prefix="t", actor=request.user)
                if team_form.is_valid():
                    services.create_team(actor=request.user, **team_form.cleaned_data)
                    messages.success(request, _("The team was created."))
                    return redirect("identity:admin-departments")
        except DomainError as exc:
            _apply_errors(department_form if "d-name" in request.POST else team_form, exc)
    context = {
        "departments": selectors.list_departments(request.user).order_by("name"),
        "department_form": department_form,
        "team_form": team_form,
        "may_create": has_verb(request.user, "create", Department),
    }
    return render(request, "identity/admin/departments.html", context)


@admin_view
def department_edit_view(request: AuthedRequest, department_id: int) -> HttpResponse:
    department = selectors.get_department_for(request.user, department_id)
    form = DepartmentForm(request.POST or None, initial={"name": department.name, "code": department.code})
    if request.method == "POST":
        try:
            if "delete" in request.POST:
                services.delete_department(department.pk, actor=request.user)
                messages.success(request, _("The department was deleted."))
                return redirect("identity:admin-departments")
            if form.is_valid():
                services.update_department(
                    department.pk,
                    actor=request.user,
                    version=int(request.POST.get("version") or 0) or None,
                    **form.cleaned_data,
                )
                messages.success(request, _("Saved."))
                return redirect("identity:admin-departments")
        except DomainError as exc:
            _apply_errors(form, exc)
    context = {
        "form": form,
        "object": department,
        "kind": _("Department"),
        "may_change": can(request.user, "change", department),
        "may_delete": can(request.user, "delete", department),
    }
    return render(request, "identity/admin/simple_form.html", context)


@admin_view
def team_edit_view(request: AuthedRequest, team_id: int) -> HttpResponse:
    team = selectors.get_team_for(request.user, team_id)
    form = TeamForm(
        request.POST or None, actor=request.user, initial={"name": team.name, "department": team.department_id}
    )
    if request.method == "POST":
        try:
            if "delete" in request.POST:
                services.delete_team(team.pk, actor=request.user)
                messages.success(request, _("The team was deleted."))
                return redirect("identity:admin-departments")
            if form.is_valid():
                services.update_team(
                    team.pk,
                    actor=request.user,
                    version=int(request.POST.get("version") or 0) or None,
                    name=form.cleaned_data["name"],
                    department=form.cleaned_data["department"],
                )
                messages.success(request, _("Saved."))
                return redirect("identity:admin-departments")
        except DomainError as exc:
            _apply_errors(form, exc)
    context = {
        "form": form,
        "object": team,
        "kind": _("Team"),
        "may_change": can(request.user, "change", team),
        "may_delete": can(request.user, "delete", team),
    }
    return render(request, "identity/admin/simple_form.html", context)


@admin_view
def roles_view(request: AuthedRequest) -> HttpResponse:
    roles = selectors.list_roles(request.user).order_by("name")
    context = {
        "roles": roles,
        "may_create": services.may_manage_roles(request.user) and has_verb(request.user, "create", Role),
    }
    return render(request, "identity/admin/roles.html", context)


def _grant_matrix(role: Role | None, post: Any = None) -> list[dict[str, Any]]:
    grants = services.grants_of(role) if role is not None else {}
    rules = services.field_rules_of(role) if role is not None else {}
    rows = []
    for object_type in services.object_types():
        verbs = []
        for verb in VERBS:
            name = f"grant:{object_type}:{verb}"
            value = post.get(name, "") if post is not None else grants.get(object_type, {}).get(verb, "")
            verbs.append({"verb": verb, "name": name, "value": value})
        fields = []
        for field in services.fields_of(object_type):
            name = f"rule:{object_type}:{field}"
            value = post.get(name, "") if post is not None else rules.get(object_type, {}).get(field, "")
            fields.append({"field": field, "name": name, "value": value})
        rows.append({"object_type": object_type, "verbs": verbs, "fields": fields})
    return rows


def _parse_matrix(post: Any) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    grants: dict[str, dict[str, str]] = {}
    rules: dict[str, dict[str, str]] = {}
    for key, value in post.items():
        kind, _sep, rest = key.partition(":")
        object_type, _sep, name = rest.rpartition(":")
        if not value or not object_type:
            continue
        if kind == "grant":
            grants.setdefault(object_type, {})[name] = value
        elif kind == "rule":
            rules.setdefault(object_type, {})[name] = value
    return grants, rules


@admin_view
def role_edit_view(request: AuthedRequest, role_id: int | None = None) -> HttpResponse:
    role = selectors.get_role_for(request.user, role_id) if role_id is not None else None
    initial = {"name": role.name, "code": role.code, "description": role.description} if role else {}
    form = RoleForm(request.POST or None, initial=initial)
    if request.method == "POST":
        grants, rules = _parse_matrix(request.POST)
        try:
            if role is not None and "delete" in request.POST:
                services.delete_role(role.pk, actor=request.user)
                messages.success(request, _("The role was deleted."))
                return redirect("identity:admin-roles")
            if form.is_valid():
                if role is None:
                    role = services.create_role(
                        actor=request.user, grants=grants, field_rules=rules, **form.cleaned_data
                    )
                else:
                    services.update_role(
                        role.pk,
                        actor=request.user,
                        version=int(request.POST.get("version") or 0) or None,
                        name=None if role.is_builtin else form.cleaned_data["name"],
                        description=form.cleaned_data["description"],
                        grants=None if role.is_builtin else grants,
                        field_rules=rules,
                    )
                messages.success(request, _("The role was saved."))
                return redirect("identity:admin-role", role_id=role.pk)
        except DomainError as exc:
            _apply_errors(form, exc)
    context = {
        "form": form,
        "role": role,
        "matrix": _grant_matrix(role, request.POST if request.method == "POST" else None),
        "verbs": VERBS,
        "scope_choices": SCOPE_CHOICES,
        "rule_choices": FIELD_RULE_CHOICES,
        "may_change": services.may_manage_roles(request.user),
    }
    return render(request, "identity/admin/role_form.html", context)


@admin_view
def tokens_view(request: AuthedRequest) -> HttpResponse:
    tokens = selectors.tokens_for(request.user, all_users=True).order_by("-id")[:500]
    return render(request, "identity/admin/tokens.html", {"tokens": tokens})
