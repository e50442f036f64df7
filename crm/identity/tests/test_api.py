"""Identity API over real HTTP: token exchange, users, departments, teams, roles, tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.test.utils import override_settings

from crm.core.models import AuditEntry
from crm.identity.models import ApiToken, Department, Role, Team, User
from crm.identity.tests.conftest import enrol_totp
from crm.testing.factories import make_token, make_user

PASSWORD = "correct horse battery staple"


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def patch(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_token_exchange_gives_a_working_token_once() -> None:
    # given
    make_user(username="alice")
    # when
    response = post(Client(), "/api/v1/auth/token", {"username": "alice", "password": PASSWORD, "name": "laptop"})
    # then
    assert response.status_code == 201, response.content
    secret = response.json()["token"]
    me = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["username"] == "alice"
    stored = ApiToken.objects.get(name="laptop")
    assert secret not in stored.token_hash
    assert AuditEntry.objects.filter(verb="login", object_id=str(stored.user_id)).exists()
    assert AuditEntry.objects.filter(verb="token.create").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_wrong_password_is_a_generic_401(username: str) -> None:
    # given
    make_user(username="alice")
    # when
    response = post(Client(), "/api/v1/auth/token", {"username": username, "password": "wrong"})
    # then: the same answer whether or not the user exists
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert "alice" not in json.dumps(body)
    assert "nobody" not in json.dumps(body)
    assert AuditEntry.objects.filter(verb="login.failed").count() == 1


@pytest.mark.django_db
def test_token_exchange_needs_the_totp_code_when_enrolled() -> None:
    # given
    user = make_user(username="alice")
    totp = enrol_totp(user)
    client = Client()
    # when / then
    assert post(client, "/api/v1/auth/token", {"username": "alice", "password": PASSWORD}).status_code == 401
    bad = post(client, "/api/v1/auth/token", {"username": "alice", "password": PASSWORD, "totp_code": "000000"})
    assert bad.status_code == 401
    code = totp.now()
    good = post(client, "/api/v1/auth/token", {"username": "alice", "password": PASSWORD, "totp_code": code})
    assert good.status_code == 201
    replay = post(client, "/api/v1/auth/token", {"username": "alice", "password": PASSWORD, "totp_code": code})
    assert replay.status_code == 401


@pytest.mark.django_db
@override_settings(LOGIN_MAX_FAILURES=5)
def test_locked_account_answers_429_even_with_the_right_password() -> None:
    make_user(username="alice")
    client = Client()
    for _ in range(5):
        assert post(client, "/api/v1/auth/token", {"username": "alice", "password": "nope"}).status_code == 401
    response = post(client, "/api/v1/auth/token", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert AuditEntry.objects.filter(verb="lockout").count() == 1


@pytest.mark.django_db
def test_token_exchange_bad_input_is_422_not_500() -> None:
    response = Client().post("/api/v1/auth/token", data="{nope", content_type="application/json")
    assert response.status_code in (400, 422)
    response = post(Client(), "/api/v1/auth/token", {"username": "a"})
    assert response.status_code == 422
    assert any(e["field"] == "password" for e in response.json()["errors"])


@pytest.mark.django_db
def test_expired_and_revoked_tokens_are_401() -> None:
    from datetime import timedelta

    from django.utils import timezone

    user = make_user()
    expired = make_token(user, name="old")
    ApiToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = make_token(user, name="gone")
    ApiToken.objects.filter(name="gone").update(revoked_at=timezone.now())
    for secret in (expired, revoked, "crm_tampered", "garbage"):
        response = Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401
        assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.django_db
def test_admin_creates_lists_and_patches_users(api_client: Client, team_a: Team, viewer_role: Role) -> None:
    # when
    created = post(
        api_client,
        "/api/v1/users",
        {
            "username": "wang",
            "password": "a-long-enough-Passw0rd",
            "display_name": "王五",
            "team_id": team_a.pk,
            "role_id": viewer_role.pk,
        },
    )
    # then
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["department_id"] == team_a.department_id  # follows the team
    assert body["display_name"] == "王五"
    assert "王五".encode() in created.content
    listed = api_client.get("/api/v1/users?q=wang").json()["items"]
    assert [u["username"] for u in listed] == ["wang"]
    stale = patch(api_client, f"/api/v1/users/{body['id']}", {"display_name": "x", "version": 99})
    assert stale.status_code == 412
    assert User.objects.get(pk=body["id"]).display_name == "王五"
    ok = patch(api_client, f"/api/v1/users/{body['id']}", {"display_name": "王六"}, **{"If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.json()["version"] == 2


@pytest.mark.django_db
def test_user_create_field_errors(api_client: Client, team_a: Team) -> None:
    other = Department.objects.create(name="客服部", code="service")
    response = post(
        api_client,
        "/api/v1/users",
        {
            "username": "bad name!",
            "password": "123",
            "department_id": other.pk,
            "team_id": team_a.pk,
            "role_id": 999999,
        },
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert "role_id" in fields
    response = post(
        api_client,
        "/api/v1/users",
        {"username": "ok", "password": "123", "department_id": other.pk, "team_id": team_a.pk},
    )
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"team"} <= fields
    response = post(api_client, "/api/v1/users", {"username": "ok", "password": "123"})
    assert {e["field"] for e in response.json()["errors"]} == {"password"}
    assert not User.objects.filter(username="ok").exists()


@pytest.mark.django_db
def test_plain_user_may_not_manage_users(client: Client) -> None:
    user = make_user(username="member")
    headers = {"Authorization": f"Bearer {make_token(user)}"}
    c = Client(headers=headers)
    assert post(c, "/api/v1/users", {"username": "x", "password": "a-long-enough-Passw0rd"}).status_code == 403
    assert c.get("/api/v1/users").json()["items"] == []
    admin = make_user(username="boss", superuser=True)
    assert c.get(f"/api/v1/users/{admin.pk}").status_code == 404
    assert post(c, f"/api/v1/users/{admin.pk}/disable", {}).status_code == 404


@pytest.mark.django_db
def test_disabling_a_user_ends_its_token_and_session_at_once(api_client: Client) -> None:
    # given
    victim = make_user(username="leaver")
    secret = make_token(victim)
    browser = Client()
    browser.force_login(victim)
    assert browser.get("/").status_code == 200
    # when
    response = post(api_client, f"/api/v1/users/{victim.pk}/disable", {})
    # then
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert browser.get("/").status_code == 302
    assert ApiToken.objects.get(user=victim).revoked_at is not None


@pytest.mark.django_db
def test_logout_everywhere_ends_sessions(api_client: Client) -> None:
    user = make_user(username="roamer")
    browser = Client()
    browser.force_login(user)
    assert post(api_client, f"/api/v1/users/{user.pk}/logout-everywhere", {}).status_code == 204
    assert browser.get("/").status_code == 302


@pytest.mark.django_db
def test_departments_and_teams_crud(api_client: Client) -> None:
    dep = post(api_client, "/api/v1/departments", {"name": "渠道部", "code": "channel"})
    assert dep.status_code == 201
    dep_id = dep.json()["id"]
    dup = post(api_client, "/api/v1/departments", {"name": "渠道部", "code": "channel"})
    assert dup.status_code == 422
    team = post(api_client, "/api/v1/teams", {"name": "三组", "department_id": dep_id})
    assert team.status_code == 201
    assert api_client.get(f"/api/v1/teams?department={dep_id}").json()["items"][0]["name"] == "三组"
    assert api_client.delete(f"/api/v1/departments/{dep_id}").status_code == 409
    assert api_client.delete(f"/api/v1/teams/{team.json()['id']}").status_code == 204
    renamed = patch(api_client, f"/api/v1/departments/{dep_id}", {"name": "渠道", "version": 1})
    assert renamed.json()["version"] == 2
    assert api_client.delete(f"/api/v1/departments/{dep_id}").status_code == 204


@pytest.mark.django_db
def test_roles_with_grants_and_field_rules(api_client: Client) -> None:
    created = post(
        api_client,
        "/api/v1/roles",
        {
            "name": "Auditor",
            "code": "auditor",
            "grants": {"identity.user": {"view": "all", "change": "team"}},
            "field_rules": {"identity.user": {"email": "hidden"}},
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["grants"] == {"identity.user": {"change": "team", "view": "all"}}
    assert body["field_rules"] == {"identity.user": {"email": "hidden"}}
    assert AuditEntry.objects.filter(verb="permission.change", object_id=str(body["id"])).count() == 2
    bad = patch(api_client, f"/api/v1/roles/{body['id']}", {"grants": {"nope.model": {"view": "all"}}})
    assert bad.status_code == 422
    bad = patch(api_client, f"/api/v1/roles/{body['id']}", {"grants": {"identity.user": {"fly": "all"}}})
    assert bad.status_code == 422
    changed = patch(
        api_client, f"/api/v1/roles/{body['id']}", {"grants": {"identity.user": {"view": "own"}}, "version": 1}
    )
    assert changed.json()["grants"] == {"identity.user": {"view": "own"}}
    builtin = Role.objects.get(code="member")
    assert patch(api_client, f"/api/v1/roles/{builtin.pk}", {"grants": {}}).status_code == 409


@pytest.mark.django_db
def test_scoped_token_cannot_exceed_its_scopes(admin_user: User) -> None:
    from crm.identity.tokens import create_token

    _, secret = create_token(admin_user, name="ro", actor=admin_user, scopes=["identity.user:view"])
    c = Client(headers={"Authorization": f"Bearer {secret}"})
    assert c.get("/api/v1/users").status_code == 200
    assert len(c.get("/api/v1/users").json()["items"]) == 1
    assert post(c, "/api/v1/users", {"username": "x", "password": "a-long-enough-Passw0rd"}).status_code == 403
    assert post(c, "/api/v1/departments", {"name": "x"}).status_code == 403
    assert not User.objects.filter(username="x").exists()


@pytest.mark.django_db
def test_tokens_own_list_create_revoke(client: Client) -> None:
    user = make_user(username="dev")
    c = Client(headers={"Authorization": f"Bearer {make_token(user, name='boot')}"})
    created = post(c, "/api/v1/tokens", {"name": "ci", "expires_days": 7})
    assert created.status_code == 201
    assert created.json()["token"].startswith("crm_")
    items = c.get("/api/v1/tokens").json()["items"]
    assert "token" not in items[0]
    assert {t["name"] for t in items} == {"boot", "ci"}
    assert c.delete(f"/api/v1/tokens/{created.json()['id']}").status_code == 204
    assert AuditEntry.objects.filter(verb="token.revoke").count() == 1
    stranger = make_user(username="stranger")
    other = ApiToken.objects.get(pk=int(make_token(stranger) and ApiToken.objects.filter(user=stranger).get().pk))
    assert c.delete(f"/api/v1/tokens/{other.pk}").status_code == 404
    bad = post(c, "/api/v1/tokens", {"name": "x", "scopes": ["customers.nothing:view"]})
    assert bad.status_code == 422


@pytest.mark.django_db
def test_user_list_query_count_is_constant(api_client: Client, django_assert_max_num_queries: Any) -> None:
    for i in range(30):
        make_user(username=f"u{i:02d}")
    api_client.get("/api/v1/users?limit=2")
    with django_assert_max_num_queries(8):
        small = api_client.get("/api/v1/users?limit=2")
    with django_assert_max_num_queries(8):
        big = api_client.get("/api/v1/users?limit=30")
    assert len(small.json()["items"]) == 2
    assert len(big.json()["items"]) == 30
    cursor = small.json()["next_cursor"]
    assert (
        api_client.get(f"/api/v1/users?limit=2&cursor={cursor}").json()["items"][0]["username"]
        != small.json()["items"][0]["username"]
    )


@pytest.mark.django_db
def test_idempotency_key_makes_one_department(api_client: Client) -> None:
    first = post(api_client, "/api/v1/departments", {"name": "法务部"}, **{"Idempotency-Key": "k1"})
    again = post(api_client, "/api/v1/departments", {"name": "法务部"}, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert Department.objects.filter(name="法务部").count() == 1


@pytest.mark.django_db
@override_settings(REQUIRE_ADMIN_2FA=True)
def test_admin_without_totp_cannot_exchange_when_2fa_is_required() -> None:
    make_user(username="root", superuser=True)
    response = post(Client(), "/api/v1/auth/token", {"username": "root", "password": PASSWORD})
    assert response.status_code == 401
