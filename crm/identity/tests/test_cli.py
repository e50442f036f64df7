"""`crm createuser` and `crm token` over the real command line entry point."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from crm.core.models import AuditEntry
from crm.identity.models import ApiToken, Department, Team, User


def run(*args: str, stdin: str | None = None, monkeypatch: Any = None) -> str:
    out = io.StringIO()
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_createuser_with_department_team_role_and_password_from_stdin(
    monkeypatch: pytest.MonkeyPatch, team_a: Team
) -> None:
    out = run(
        "createuser",
        "li",
        "--department",
        "sales",
        "--team",
        "一组",
        "--role",
        "member",
        "--password-stdin",
        stdin="a-long-Passw0rd!\n",
        monkeypatch=monkeypatch,
    )
    assert "Created user li" in out
    user = User.objects.get(username="li")
    assert user.team == team_a
    assert user.department == team_a.department
    assert user.role is not None
    assert user.role.code == "member"
    assert user.check_password("a-long-Passw0rd!")
    assert AuditEntry.objects.filter(verb="create", object_id=str(user.pk), channel="cli").exists()


@pytest.mark.django_db
def test_createuser_password_from_env_and_superuser(monkeypatch: pytest.MonkeyPatch, sales: Department) -> None:
    monkeypatch.setenv("CRM_NEW_USER_PASSWORD", "env-Passw0rd-long")
    run("createuser", "boss", "--superuser", "--department", "销售部", "--email", "boss@example.com")
    user = User.objects.get(username="boss")
    assert user.is_superuser
    assert user.check_password("env-Passw0rd-long")


@pytest.mark.django_db
def test_createuser_refuses_bad_input(monkeypatch: pytest.MonkeyPatch, team_a: Team) -> None:
    monkeypatch.delenv("CRM_NEW_USER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="No department"):
        run("createuser", "x", "--department", "nope")
    with pytest.raises(CommandError, match="No role"):
        run("createuser", "x", "--role", "nope")
    with pytest.raises(CommandError, match="team"):
        run("createuser", "x", "--department", "sales", "--team", "九组")
    monkeypatch.setenv("CRM_NEW_USER_PASSWORD", "123")
    with pytest.raises(CommandError, match="password"):
        run("createuser", "x")
    assert not User.objects.filter(username="x").exists()
    monkeypatch.delenv("CRM_NEW_USER_PASSWORD")
    run("createuser", "nopass")
    assert not User.objects.get(username="nopass").has_usable_password()


@pytest.mark.django_db
def test_token_create_prints_only_the_token_and_it_works() -> None:
    User.objects.create_user("bot", password="whatever-long-1")
    out = run("token", "create", "bot", "--name", "ci", "--expires-days", "5")
    secret = out.strip()
    assert secret.startswith("crm_")
    assert "\n" not in secret
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()["username"] == "bot"
    listing = run("token", "list", "bot")
    assert "ci" in listing
    assert secret not in listing
    token = ApiToken.objects.get(name="ci")
    assert "Revoked" in run("token", "revoke", token.prefix)
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert AuditEntry.objects.filter(verb="token.revoke").count() == 1


@pytest.mark.django_db
def test_token_create_scoped_and_errors() -> None:
    User.objects.create_user("bot", password="whatever-long-1")
    with pytest.raises(CommandError, match="No active user"):
        run("token", "create", "ghost", "--name", "x")
    with pytest.raises(CommandError):
        run("token", "create", "bot", "--name", "x", "--scope", "identity.user:view")  # bot has no such right
    with pytest.raises(CommandError, match="No single token"):
        run("token", "revoke", "999999")


@pytest.mark.django_db
def test_createuser_refuses_a_taken_username(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_NEW_USER_PASSWORD", raising=False)
    run("createuser", "dup")
    with pytest.raises(CommandError, match="username"):
        run("createuser", "DUP")
    assert User.objects.filter(username__iexact="dup").count() == 1
