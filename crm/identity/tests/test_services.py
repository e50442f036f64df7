"""Identity services without HTTP: authority rules, lock-out arithmetic, TOTP, token scopes, audit."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from django.test.utils import override_settings
from django.utils import timezone, translation

from crm.core.access import Scope, visible_to
from crm.core.audit import verify_chain
from crm.core.errors import Forbidden, NotFound, PreconditionFailed, ValidationFailed
from crm.core.models import AuditEntry
from crm.identity import authentication, services
from crm.identity.models import ApiToken, LoginAttempt, Role, RolePermission, Team, User
from crm.identity.tests.conftest import enrol_totp
from crm.identity.tokens import clean_scopes, create_token
from crm.testing.factories import make_user


def hr_role() -> Role:
    role = Role.objects.create(name="HR", code="hr")
    for verb in ("view", "change", "create"):
        RolePermission.objects.create(role=role, object_type="identity.user", verb=verb, scope=int(Scope.ALL))
    return role


@pytest.mark.django_db
def test_user_with_user_grants_cannot_raise_own_rights(team_a: Team, team_b: Team) -> None:
    # given: an HR clerk who may change every user, but is no administrator
    clerk = make_user(username="clerk", role=hr_role(), team=team_a, department=team_a.department)
    admin_role = Role.objects.get(code="administrator")
    # when / then: not their own role, team or managed team
    for change in ({"role": admin_role}, {"team": team_b}, {"manager_of": team_b}):
        with pytest.raises(ValidationFailed) as caught:
            services.update_user(clerk.pk, actor=clerk, **change)
        assert set(caught.value.errors) == set(change)
    # but they may move someone else between teams, though not give them a role
    other = make_user(username="other", team=team_a, department=team_a.department)
    services.update_user(other.pk, actor=clerk, team=team_b)
    with pytest.raises(ValidationFailed):
        services.update_user(other.pk, actor=clerk, role=admin_role)
    clerk.refresh_from_db()
    assert clerk.team == team_a
    assert clerk.role is not None
    assert clerk.role.code == "hr"


@pytest.mark.django_db
def test_administrator_role_holder_cannot_touch_a_superuser(team_a: Team) -> None:
    root = make_user(username="root", superuser=True)
    admin = make_user(username="adm", role=Role.objects.get(code="administrator"))
    RolePermission.objects.filter(role__code="administrator").delete()
    RolePermission.objects.create(role=admin.role, object_type="identity.user", verb="change", scope=4)
    with pytest.raises(NotFound):
        services.set_user_active(root.pk, actor=admin, active=False)
    with pytest.raises(ValidationFailed):
        services.set_user_active(admin.pk, actor=admin, active=False)


@pytest.mark.django_db
def test_stale_version_writes_nothing(admin_user: User) -> None:
    user = make_user(username="x")
    with pytest.raises(PreconditionFailed):
        services.update_user(user.pk, actor=admin_user, version=7, display_name="changed")
    user.refresh_from_db()
    assert user.display_name == ""
    assert not AuditEntry.objects.filter(verb="change", object_id=str(user.pk)).exists()


@pytest.mark.django_db
def test_member_without_grants_may_not_create_anything() -> None:
    member = make_user(username="m")
    with pytest.raises(Forbidden):
        services.create_department(actor=member, name="x")
    with pytest.raises(Forbidden):
        services.create_role(actor=member, name="x")
    assert list(visible_to(member, "view", User)) == []


@pytest.mark.django_db
@override_settings(LOGIN_MAX_FAILURES=3, LOGIN_FAILURE_WINDOW_SECONDS=60, LOGIN_LOCKOUT_SECONDS=120)
def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    now = timezone.now()
    for seconds in (300, 200, 100):  # three failures, but never three within 60 s
        LoginAttempt.objects.create(
            username="alice", succeeded=False, reason="credentials", attempted_at=now - timedelta(seconds=seconds)
        )
    assert authentication.lock_state("alice", None) is None
    for _ in range(3):
        LoginAttempt.objects.create(username="alice", succeeded=False, reason="credentials", attempted_at=now)
    until = authentication.lock_state("ALICE ", None)  # case and spaces do not dodge the lock
    assert until is not None
    assert until > now


@pytest.mark.django_db
@override_settings(LOGIN_MAX_FAILURES=3)
def test_a_success_resets_the_count() -> None:
    make_user(username="alice")
    for _ in range(2):
        with pytest.raises(authentication.LoginFailed):
            authentication.check_password_login("alice", "nope")
    outcome = authentication.check_password_login("alice", "correct horse battery staple")
    authentication.record_login_success(outcome.user, method="password")
    for _ in range(2):
        with pytest.raises(authentication.LoginFailed):
            authentication.check_password_login("alice", "nope")
    assert authentication.lock_state("alice", None) is None


@pytest.mark.django_db
def test_totp_codes_are_single_use_and_time_bound() -> None:
    user = make_user(username="alice")
    totp = enrol_totp(user)
    device = authentication.confirmed_device(user)
    assert device is not None
    code = totp.now()
    assert authentication.use_totp_code(device, code)
    assert not authentication.use_totp_code(device, code)
    old = totp.at(timezone.now() - timedelta(minutes=5))
    assert not authentication.use_totp_code(device, old)
    for bad in ("", "abcdef", "1234567", None):
        assert not authentication.use_totp_code(device, bad)  # type: ignore[arg-type]


@pytest.mark.django_db
@override_settings(REQUIRE_ADMIN_2FA=True)
def test_enrolment_confirm_and_disable_rules() -> None:
    user = make_user(username="alice")
    device = authentication.begin_totp_enrolment(user)
    with pytest.raises(ValidationFailed):
        authentication.confirm_totp_enrolment(user, "000000")
    authentication.confirm_totp_enrolment(user, pyotp.TOTP(device.secret).now())
    with pytest.raises(ValidationFailed):
        authentication.begin_totp_enrolment(user)
    with pytest.raises(ValidationFailed):
        authentication.disable_totp(user, actor=user, code="000000")
    root = make_user(username="root", superuser=True)
    enrol_totp(root)
    with translation.override("en"), pytest.raises(ValidationFailed, match="Administrators"):
        authentication.disable_totp(root, actor=root, code="000000")
    authentication.disable_totp(user, actor=root, code=None)  # an administrator resets a lost phone
    assert authentication.confirmed_device(user) is None


@pytest.mark.django_db
def test_token_scopes_must_be_known_and_held(admin_user: User) -> None:
    member = make_user(username="m")
    with pytest.raises(ValidationFailed):
        clean_scopes(member, ["identity.user:view"])
    with pytest.raises(ValidationFailed):
        clean_scopes(admin_user, ["identity.user:fly", "nothing"])
    assert clean_scopes(admin_user, ["identity.user:view", "identity.user:view"]) == ["identity.user:view"]
    with pytest.raises(ValidationFailed):
        create_token(admin_user, name="", actor=admin_user)
    with pytest.raises(ValidationFailed):
        create_token(admin_user, name="x", actor=admin_user, expires_at=timezone.now() - timedelta(days=1))
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_scoped_token_narrows_access_scope(admin_user: User) -> None:
    token, _secret = create_token(admin_user, name="ro", actor=admin_user, scopes=["identity.user:view"])
    admin_user.__dict__["api_token"] = token
    assert admin_user.access_scope("identity.user", "view") == Scope.ALL
    assert admin_user.access_scope("identity.user", "change") is None
    assert admin_user.access_scope("customers.customer", "view") is None


@pytest.mark.django_db
def test_every_identity_write_keeps_the_audit_chain_valid(admin_user: User) -> None:
    department = services.create_department(actor=admin_user, name="渠道部")
    team = services.create_team(actor=admin_user, department=department, name="一组")
    user = services.create_user(actor=admin_user, username="u1", team=team, password="a-long-Passw0rd!")
    services.update_user(user.pk, actor=admin_user, display_name="新名字")
    services.set_password(user.pk, actor=admin_user, password="another-Passw0rd!")
    services.logout_everywhere(user.pk, actor=admin_user)
    services.create_role(actor=admin_user, name="R", grants={"identity.team": {"view": "department"}})
    assert list(verify_chain()) == []
    verbs = set(AuditEntry.objects.values_list("verb", flat=True))
    assert {"create", "change", "logout.everywhere", "role.change", "permission.change"} <= verbs
    password_row = AuditEntry.objects.filter(verb="change", changes__has_key="password").get()
    assert "another-Passw0rd!" not in str(password_row.changes)
