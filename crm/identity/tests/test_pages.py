"""Identity pages over real HTTP: login with lock-out and TOTP, profile, administration."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.test.utils import override_settings

from crm.core.models import AuditEntry
from crm.identity.models import ApiToken, Department, LoginAttempt, Role, Team, TotpDevice, User
from crm.identity.tests.conftest import enrol_totp
from crm.testing.factories import make_user

PASSWORD = "correct horse battery staple"


def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login/", {"username": username, "password": password}, headers={"Accept-Language": "en"})


@pytest.mark.django_db
def test_login_page_renders_and_logs_in() -> None:
    make_user(username="alice")
    client = Client()
    assert client.get("/login/").status_code == 200
    response = login(client, "alice")
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert AuditEntry.objects.filter(verb="login").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["alice", "ghost"])
def test_wrong_password_page_error_is_generic(username: str) -> None:
    make_user(username="alice")
    response = login(Client(), username, "wrong-password")
    assert response.status_code == 401
    text = response.content.decode()
    assert "The username or password is incorrect" in text
    assert AuditEntry.objects.filter(verb="login.failed").count() == 1


@pytest.mark.django_db
def test_twenty_wrong_passwords_lock_the_account_and_are_audited() -> None:
    # given
    make_user(username="alice")
    client = Client()
    # when
    statuses = [login(client, "alice", f"wrong-{i}").status_code for i in range(20)]
    # then
    assert 429 in statuses
    assert login(client, "alice").status_code == 429  # the right password does not open a locked account
    assert client.get("/").status_code == 302
    assert AuditEntry.objects.filter(verb="login.failed").count() == 21
    assert AuditEntry.objects.filter(verb="lockout", extra__by="account").exists()


@pytest.mark.django_db
@override_settings(LOGIN_MAX_FAILURES=100, LOGIN_MAX_FAILURES_PER_IP=5)
def test_many_usernames_from_one_ip_lock_the_ip() -> None:
    make_user(username="alice")
    client = Client(REMOTE_ADDR="10.0.0.9")
    for i in range(5):
        login(client, f"user{i}", "nope")
    assert login(client, "alice").status_code == 429
    assert login(Client(REMOTE_ADDR="10.0.0.10"), "alice").status_code == 302
    assert AuditEntry.objects.filter(verb="lockout", extra__by="ip").exists()


@pytest.mark.django_db
@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=60)
def test_lock_ends_after_the_lockout_time() -> None:
    from datetime import timedelta

    from django.utils import timezone

    make_user(username="alice")
    client = Client()
    for _ in range(3):
        login(client, "alice", "nope")
    assert login(client, "alice").status_code == 429
    LoginAttempt.objects.update(attempted_at=timezone.now() - timedelta(seconds=61))
    assert login(client, "alice").status_code == 302


@pytest.mark.django_db
def test_totp_login_flow_refuses_wrong_and_replayed_codes() -> None:
    user = make_user(username="alice")
    totp = enrol_totp(user)
    client = Client()
    response = login(client, "alice")
    assert response["Location"] == "/identity/login/verify/"
    assert client.get("/").status_code == 302  # not logged in yet
    assert client.post("/identity/login/verify/", {"code": "123456"}).status_code == 401
    code = totp.now()
    assert client.post("/identity/login/verify/", {"code": code}).status_code == 302
    assert client.get("/").status_code == 200
    other = Client()
    login(other, "alice")
    assert other.post("/identity/login/verify/", {"code": code}).status_code == 401  # replay


@pytest.mark.django_db
def test_verify_step_without_password_step_goes_back_to_login() -> None:
    assert Client().post("/identity/login/verify/", {"code": "123456"}).status_code == 302


@pytest.mark.django_db
@override_settings(REQUIRE_ADMIN_2FA=True)
def test_administrator_without_totp_must_enrol_before_login() -> None:
    import pyotp

    make_user(username="root", superuser=True)
    client = Client()
    response = login(client, "root")
    assert response["Location"] == "/identity/login/enrol/"
    page = client.get("/identity/login/enrol/")
    assert b"<svg" in page.content
    assert client.get("/").status_code == 302
    device = TotpDevice.objects.get(user__username="root")
    assert client.post("/identity/login/enrol/", {"code": "000000"}).status_code == 422
    assert client.post("/identity/login/enrol/", {"code": pyotp.TOTP(device.secret).now()}).status_code == 302
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_tampered_session_cookie_is_just_logged_out() -> None:
    make_user(username="alice")
    client = Client()
    login(client, "alice")
    client.cookies["sessionid"] = "tampered" + client.cookies["sessionid"].value[8:]
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_profile_enrol_totp_and_create_token_shown_once() -> None:
    import pyotp

    user = make_user(username="alice")
    client = Client()
    client.force_login(user)
    assert client.get("/identity/profile/").status_code == 200
    client.post("/identity/profile/two-factor/begin/")
    page = client.get("/identity/profile/")
    assert b"<svg" in page.content
    secret = TotpDevice.objects.get(user=user).secret
    assert client.post("/identity/profile/two-factor/confirm/", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert TotpDevice.objects.get(user=user).confirmed_at is not None
    response = client.post("/identity/profile/tokens/", {"name": "script", "expires_days": "30"}, follow=True)
    token = ApiToken.objects.get(user=user, name="script")
    text = response.content.decode()
    assert token.prefix in text
    assert 'data-testid="new-token"' in text
    again = client.get("/identity/profile/").content.decode()
    assert 'data-testid="new-token"' not in again


@pytest.mark.django_db
def test_password_change_keeps_this_session_and_ends_others() -> None:
    user = make_user(username="alice")
    here, there = Client(), Client()
    login(here, "alice")
    login(there, "alice")
    response = here.post(
        "/identity/profile/password/",
        {"old_password": PASSWORD, "new_password": "another-Long-passw0rd", "new_password2": "another-Long-passw0rd"},
    )
    assert response.status_code == 302
    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 302
    weak = here.post(
        "/identity/profile/password/",
        {"old_password": "another-Long-passw0rd", "new_password": "123", "new_password2": "123"},
    )
    assert weak.status_code == 422
    user.refresh_from_db()
    assert user.check_password("another-Long-passw0rd")


@pytest.mark.django_db
def test_logout_everywhere_from_profile() -> None:
    make_user(username="alice")
    here, there = Client(), Client()
    login(here, "alice")
    login(there, "alice")
    assert here.post("/identity/profile/logout-everywhere/").status_code == 302
    assert here.get("/").status_code == 302
    assert there.get("/").status_code == 302


@pytest.mark.django_db
def test_admin_pages_render(admin_client: Client, team_a: Team) -> None:
    member = make_user(username="member", team=team_a, department=team_a.department)
    for url in (
        "/administration/",
        "/identity/admin/users/",
        "/identity/admin/users/new/",
        f"/identity/admin/users/{member.pk}/",
        "/identity/admin/departments/",
        f"/identity/admin/departments/{team_a.department_id}/",
        f"/identity/admin/teams/{team_a.pk}/",
        "/identity/admin/roles/",
        "/identity/admin/roles/new/",
        f"/identity/admin/roles/{Role.objects.get(code='member').pk}/",
        "/identity/admin/tokens/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    partial = admin_client.get("/identity/admin/users/?q=mem", headers={"HX-Request": "true"})
    assert b"member" in partial.content
    assert b"<html" not in partial.content


@pytest.mark.django_db
def test_admin_creates_and_disables_a_user_through_pages(admin_client: Client, team_a: Team) -> None:
    role = Role.objects.get(code="member")
    response = admin_client.post(
        "/identity/admin/users/new/",
        {
            "username": "zhang",
            "display_name": "张三",
            "team": team_a.pk,
            "role": role.pk,
            "password": "a-long-Passw0rd!",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="zhang")
    assert user.department_id == team_a.department_id
    browser = Client()
    login(browser, "zhang", "a-long-Passw0rd!")
    assert browser.get("/").status_code == 200
    admin_client.post(f"/identity/admin/users/{user.pk}/disable/")
    assert browser.get("/").status_code == 302
    assert login(Client(), "zhang", "a-long-Passw0rd!").status_code == 401


@pytest.mark.django_db
def test_admin_creates_role_with_grants_and_field_rules(admin_client: Client) -> None:
    response = admin_client.post(
        "/identity/admin/roles/new/",
        {
            "name": "Team lead",
            "code": "lead",
            "grant:identity.user:view": "team",
            "grant:identity.user:change": "own",
            "rule:identity.user:email": "read_only",
        },
    )
    assert response.status_code == 302
    role = Role.objects.get(code="lead")
    assert {(p.verb, p.scope) for p in role.permissions.all()} == {("view", 2), ("change", 1)}
    assert role.field_rules.get().mode == "read_only"
    assert AuditEntry.objects.filter(verb="permission.change", object_id=str(role.pk)).count() == 2


@pytest.mark.django_db
def test_departments_page_creates_department_and_team(admin_client: Client) -> None:
    admin_client.post("/identity/admin/departments/", {"d-name": "客服部", "d-code": "service"})
    department = Department.objects.get(code="service")
    admin_client.post("/identity/admin/departments/", {"t-name": "一组", "t-department": department.pk})
    assert Team.objects.filter(department=department, name="一组").exists()


@pytest.mark.django_db
def test_member_cannot_open_admin_pages(client: Client) -> None:
    client.force_login(make_user(username="member"))
    assert client.get("/identity/admin/users/").status_code == 404
    assert client.get("/identity/admin/roles/").status_code == 404
    assert b"identity-admin-panel" not in client.get("/administration/").content


@pytest.mark.django_db
def test_saved_language_and_time_zone_apply_to_pages_and_api() -> None:
    from crm.testing.factories import make_token

    user = make_user(username="eve", language="en", time_zone="Europe/Berlin")
    client = Client()
    client.force_login(user)
    page = client.get("/identity/profile/", headers={"Accept-Language": "zh-hans"})
    assert "Your profile" in page.content.decode()
    assert page["Content-Language"] == "en"
    api = Client(headers={"Authorization": f"Bearer {make_token(user)}"})
    assert api.get("/api/v1/users/999999", headers={"Accept-Language": "zh-hans"})["Content-Language"] == "zh-hans"
    assert api.get("/api/v1/users/999999")["Content-Language"] == "en"
    client.cookies["django_language"] = "zh-hans"
    assert "个人资料" in client.get("/identity/profile/").content.decode()


@pytest.mark.django_db
def test_token_revoke_never_redirects_off_site() -> None:
    from crm.testing.factories import make_token

    user = make_user(username="alice")
    make_token(user, name="t")
    client = Client()
    client.force_login(user)
    token = ApiToken.objects.get(user=user)
    response = client.post(f"/identity/tokens/{token.pk}/revoke/", {"back": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"].startswith("/identity/profile/")
    other = make_user(username="bob")
    make_token(other, name="b")
    foreign = ApiToken.objects.get(user=other)
    assert client.post(f"/identity/tokens/{foreign.pk}/revoke/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


@pytest.mark.django_db
def test_login_next_never_redirects_off_site() -> None:
    make_user(username="alice")
    response = Client().post("/login/", {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_viewer_of_users_sees_pages_without_edit_buttons(team_a: Team) -> None:
    from crm.identity.models import RolePermission

    role = Role.objects.create(name="Looker", code="looker")
    RolePermission.objects.create(role=role, object_type="identity.user", verb="view", scope=4)
    RolePermission.objects.create(role=role, object_type="identity.department", verb="view", scope=4)
    looker = make_user(username="looker", role=role)
    target = make_user(username="target", team=team_a, department=team_a.department)
    client = Client()
    client.force_login(looker)
    page = client.get(f"/identity/admin/users/{target.pk}/").content.decode()
    assert "user-save" not in page
    assert "user-disable" not in page
    department_page = client.get(f"/identity/admin/departments/{team_a.department_id}/").content.decode()
    assert 'name="delete"' not in department_page
    # and posting anyway changes nothing
    assert client.post(f"/identity/admin/users/{target.pk}/disable/").status_code == 404
    target.refresh_from_db()
    assert target.is_active
