"""HTML forms of the identity pages: they parse input; services (services.py) decide and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from crm.core.access import Scope
from crm.identity.models import Department, Role, Team, User


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), max_length=1024, widget=forms.PasswordInput, strip=False)


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}),
    )


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=150, required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, required=False, help_text=_("e.g. Asia/Shanghai"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("Default")), *settings.LANGUAGES]  # type: ignore[attr-defined]


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput, strip=False)
    new_password = forms.CharField(label=_("New password"), widget=forms.PasswordInput, strip=False)
    new_password2 = forms.CharField(label=_("New password again"), widget=forms.PasswordInput, strip=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("new_password") and data.get("new_password") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords differ."))
        return data


class SetPasswordForm(forms.Form):
    password = forms.CharField(label=_("New password"), widget=forms.PasswordInput, strip=False)


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"), min_value=1, max_value=3650, required=False, initial=90
    )
    scopes = forms.CharField(
        label=_("Scopes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional, one per line, e.g. customers.customer:view. Empty: all of your rights."),
    )

    def clean_scopes(self) -> list[str]:
        raw = self.cleaned_data.get("scopes") or ""
        return [part.strip() for part in raw.replace(",", "\n").splitlines() if part.strip()]


class UserForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none(), required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    manager_of = forms.ModelChoiceField(
        label=_("Manages team"),
        queryset=Team.objects.none(),
        required=False,
        help_text=_("A manager sees what the team sees."),
    )
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none(), required=False)
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, required=False)
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        strip=False,
        required=False,
        help_text=_("Leave empty to set it later."),
    )
    is_superuser = forms.BooleanField(label=_("Superuser (every right)"), required=False)

    def __init__(self, *args: Any, actor: User, editing: bool = False, **kwargs: Any) -> None:
        from crm.core.access import visible_to

        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = visible_to(actor, "view", Department).distinct()  # type: ignore[attr-defined]
        teams = visible_to(actor, "view", Team).select_related("department").distinct()
        self.fields["team"].queryset = teams  # type: ignore[attr-defined]
        self.fields["manager_of"].queryset = teams  # type: ignore[attr-defined]
        self.fields["role"].queryset = visible_to(actor, "view", Role).distinct()  # type: ignore[attr-defined]
        self.fields["language"].choices = [("", _("Default")), *settings.LANGUAGES]  # type: ignore[attr-defined]
        if editing:
            del self.fields["username"]
            del self.fields["password"]
        if not actor.is_superuser:
            del self.fields["is_superuser"]


class DepartmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(label=_("Code"), max_length=40, required=False, help_text=_("e.g. sales"))


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none())

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        from crm.core.access import visible_to

        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = visible_to(actor, "view", Department).distinct()  # type: ignore[attr-defined]


class RoleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(label=_("Code"), max_length=40, required=False, help_text=_("e.g. sales-lead"))
    description = forms.CharField(label=_("Description"), max_length=300, required=False)


SCOPE_LABELS = {
    Scope.OWN: _("own records"),
    Scope.TEAM: _("team"),
    Scope.DEPARTMENT: _("department"),
    Scope.ALL: _("all"),
}
SCOPE_CHOICES: list[tuple[str, Any]] = [("", _("none")), *[(s.name.lower(), SCOPE_LABELS[s]) for s in Scope]]
FIELD_RULE_CHOICES: list[tuple[str, Any]] = [("", _("normal")), ("read_only", _("read-only")), ("hidden", _("hidden"))]
