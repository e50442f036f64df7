"""The access layer: scopes, managers, sharing, token scopes, field rules — fail closed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from crm.core import access
from crm.core.access import Scope
from crm.core.errors import Forbidden, NotFound
from crm.customers.models import Contact, Customer
from crm.identity.models import RecordShare, Role, RoleFieldRule, RolePermission
from crm.testing import matrix
from crm.testing.factories import make_token, make_user
from crm.testing.matrix import Org


@pytest.fixture
def registered() -> Iterator[None]:
    """Customer and Contact registered as the customers app does (kept if it already did)."""
    saved = dict(access._registry)
    if Customer not in access._registry:
        access.register(Customer, sensitive_fields=("email", "phone", "address", "id_number"))
    if Contact not in access._registry:
        access.register(
            Contact,
            owner_field="customer__owner",
            team_field="customer__owner__team",
            department_field="customer__owner__department",
            share_field="customer",
        )
    yield
    access._registry.clear()
    access._registry.update(saved)


@pytest.fixture
def org(db: Any, registered: None) -> Org:
    return matrix.build_org()


def custom_role(code: str, grants: dict[str, Scope], object_type: str = "customers.customer") -> Role:
    role = Role.objects.create(code=code, name=code)
    for verb, scope in grants.items():
        RolePermission.objects.create(role=role, object_type=object_type, verb=verb, scope=int(scope))
    return role


def user_in(org: Org, team: str, role: Role, **extra: Any) -> Any:
    t = org.teams[team]
    return make_user(role=role, team=t, department=t.department, **extra)


def customers_by_relation(org: Org, actor: Any) -> dict[str, Customer]:
    owners = {"own": actor, **org.owners}
    return {rel: Customer.objects.create(name=f"c-{rel}", owner=owner) for rel, owner in owners.items()}


def visible_names(user: Any, verb: str = "view") -> set[str]:
    return set(access.visible_to(user, verb, Customer).values_list("name", flat=True))


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (Scope.OWN, {"c-own"}),
        (Scope.TEAM, {"c-own", "c-same_team"}),
        (Scope.DEPARTMENT, {"c-own", "c-same_team", "c-other_team"}),
        (Scope.ALL, {"c-own", "c-same_team", "c-other_team", "c-other_department"}),
    ],
)
def test_each_scope_reaches_exactly_its_records(org: Org, scope: Scope, expected: set[str]) -> None:
    # given a user whose role grants change at `scope`
    actor = user_in(org, "A1", custom_role("r", {"change": scope}))
    customers_by_relation(org, actor)
    # when / then
    assert visible_names(actor, "change") == expected


def test_no_rule_means_nothing(org: Org) -> None:
    actor = user_in(org, "A1", custom_role("r", {"view": Scope.ALL}))
    customers_by_relation(org, actor)
    assert visible_names(actor, "delete") == set()
    assert visible_names(actor, "no-such-verb") == set()
    assert visible_names(AnonymousUser()) == set()
    assert visible_names(make_user()) == set()  # no role at all


def test_inactive_user_sees_nothing(org: Org) -> None:
    actor = user_in(org, "A1", custom_role("r", {"view": Scope.ALL}), is_active=False)
    customers_by_relation(org, actor)
    assert visible_names(actor) == set()


def test_team_scope_without_a_team_falls_back_to_own(org: Org) -> None:
    actor = make_user(role=custom_role("r", {"view": Scope.TEAM}))
    Customer.objects.create(name="mine", owner=actor)
    Customer.objects.create(name="teamless", owner=make_user())
    assert visible_names(actor) == {"mine"}


def test_manager_sees_what_the_managed_team_sees(org: Org) -> None:
    # given a manager in team A1 who manages team B1, with only OWN scope
    manager = user_in(org, "A1", custom_role("r", {"view": Scope.OWN}), manager_of=org.teams["B1"])
    customers_by_relation(org, manager)
    # then the managed team's records are added to their own
    assert visible_names(manager) == {"c-own", "c-other_department"}


def test_shared_record_reaches_the_team_it_is_shared_with(org: Org) -> None:
    # given a member of team B1 with OWN scope and a customer of team A2 shared with B1
    actor = user_in(org, "B1", custom_role("r", {"view": Scope.OWN, "change": Scope.OWN}))
    customers = customers_by_relation(org, actor)
    shared = customers["other_team"]
    RecordShare.objects.create(object_type="customers.customer", object_id=shared.pk, team=org.teams["B1"])
    # then they see it, but may not change it (the share is for view)
    assert visible_names(actor) == {"c-own", "c-other_team"}
    assert visible_names(actor, "change") == {"c-own"}
    # and its contacts follow the customer
    RolePermission.objects.create(role=actor.role, object_type="customers.contact", verb="view", scope=Scope.OWN)
    actor.refresh_from_db()  # the role's grants are read once per user object (per request)
    Contact.objects.create(customer=shared, name="contact of shared")
    assert list(access.visible_to(actor, "view", Contact).values_list("name", flat=True)) == ["contact of shared"]


def test_share_with_department_and_for_change(org: Org) -> None:
    actor = user_in(org, "B1", custom_role("r", {"view": Scope.OWN, "change": Scope.OWN}))
    customers = customers_by_relation(org, actor)
    RecordShare.objects.create(
        object_type="customers.customer",
        object_id=customers["same_team"].pk,
        department=org.departments["B"],
        verb="change",
    )
    assert "c-same_team" in visible_names(actor, "change")
    assert "c-same_team" in visible_names(actor, "view")  # a change share also lets them view


def test_share_never_grants_a_verb_the_role_lacks(org: Org) -> None:
    actor = user_in(org, "B1", custom_role("r", {"view": Scope.OWN}))
    customers = customers_by_relation(org, actor)
    RecordShare.objects.create(
        object_type="customers.customer", object_id=customers["own"].pk, team=org.teams["B1"], verb="delete"
    )
    assert visible_names(actor, "delete") == set()


def test_get_for_answers_404_for_missing_and_forbidden_alike(org: Org) -> None:
    actor = user_in(org, "A1", custom_role("r", {"view": Scope.OWN}))
    customers = customers_by_relation(org, actor)
    assert access.get_for(actor, "view", Customer, customers["own"].pk) == customers["own"]
    for pk in (customers["other_team"].pk, 999_999_999, 2**64, "not-a-number", None):
        with pytest.raises(NotFound):
            access.get_for(actor, "view", Customer, pk)


def test_token_scopes_narrow_the_users_rights(org: Org) -> None:
    # given a member whose token only allows viewing customers
    from crm.identity.tokens import create_token

    actor = user_in(org, "A1", Role.objects.get(code="member"))
    token, secret = create_token(actor, name="read", actor=actor)
    token.scopes = ["customers.customer:view"]
    token.save()
    from crm.identity.tokens import authenticate_token

    as_token = authenticate_token(secret)
    assert as_token is not None
    customers_by_relation(org, actor)
    # then through the token the user may view but no longer change their own customers
    assert access.has_verb(as_token, "view", Customer)
    assert not access.has_verb(as_token, "change", Customer)
    assert visible_names(as_token, "change") == set()
    # while the same user in a session keeps the role's rights
    assert visible_names(actor, "change") == {"c-own"}


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ([], True),
        (["customers.customer:change"], True),
        (["customers.customer:*"], True),
        (["*:change"], True),
        (["*:*"], True),
        (["customers.customer:view"], False),
        (["customers.contact:*"], False),
    ],
)
def test_token_scope_forms(scopes: list[str], allowed: bool) -> None:
    from crm.identity.models import token_allows

    assert token_allows(scopes, "customers.customer", "change") is allowed


def test_superuser_token_is_narrowed_too(db: Any, registered: None) -> None:
    from crm.identity.tokens import authenticate_token, create_token

    admin = make_user(superuser=True)
    token, secret = create_token(admin, name="ro", actor=admin)
    token.scopes = ["*:view"]
    token.save()
    as_token = authenticate_token(secret)
    assert access.has_verb(as_token, "view", Customer)
    assert not access.has_verb(as_token, "delete", Customer)


# --- field rules ---------------------------------------------------------------------------------


@pytest.fixture
def phone_hidden_role(db: Any) -> Role:
    """A marketing role: sees customers company-wide, but not their phone; e-mail read-only."""
    role = custom_role("marketing", {"view": Scope.ALL, "change": Scope.ALL, "export": Scope.ALL})
    RoleFieldRule.objects.create(role=role, object_type="customers.customer", field="phone", mode="hidden")
    RoleFieldRule.objects.create(role=role, object_type="customers.customer", field="email", mode="read_only")
    return role


def test_field_policy_hides_and_protects(org: Org, phone_hidden_role: Role) -> None:
    user = user_in(org, "A1", phone_hidden_role)
    policy = access.field_policy(user, Customer)
    assert not policy.can_read("phone")
    assert not policy.can_write("phone")
    assert policy.can_read("email")
    assert not policy.can_write("email")
    assert policy.can_write("city")


def test_strip_helpers_drop_hidden_fields(org: Org, phone_hidden_role: Role) -> None:
    user = user_in(org, "A1", phone_hidden_role)
    row = {"id": 1, "name": "张三", "phone": "+8613800138000", "email": "a@example.com"}
    assert access.strip_hidden(user, Customer, row) == {"id": 1, "name": "张三", "email": "a@example.com"}
    assert (
        list(access.strip_hidden_rows(user, Customer, [row, row]))
        == [{"id": 1, "name": "张三", "email": "a@example.com"}] * 2
    )
    assert access.readable_fields(user, Customer, ["name", "phone", "email"]) == ["name", "email"]


def test_check_writable_refuses_hidden_and_read_only_fields(org: Org, phone_hidden_role: Role) -> None:
    user = user_in(org, "A1", phone_hidden_role)
    access.check_writable(user, Customer, ["city", "name"])
    with pytest.raises(Forbidden) as caught:
        access.check_writable(user, Customer, ["city", "phone", "email"])
    assert caught.value.status == 403
    assert set(caught.value.errors) == {"phone", "email"}


def test_builtin_roles_hide_nothing_and_anonymous_sees_no_personal_data(org: Org) -> None:
    member = user_in(org, "A1", Role.objects.get(code="member"))
    assert access.field_policy(member, Customer) == access.FieldPolicy()
    anonymous = access.field_policy(AnonymousUser(), Customer)
    assert not anonymous.can_read("phone")
    assert not anonymous.can_read("id_number")


def test_builtin_member_sees_customers_company_wide_but_changes_own(org: Org) -> None:
    member = org.actor("member")
    customers_by_relation(org, member)
    assert visible_names(member) == {"c-own", "c-same_team", "c-other_team", "c-other_department"}
    assert visible_names(member, "change") == {"c-own"}
    assert visible_names(member, "delete") == set()


def test_builtin_manager_changes_team_and_managed_team(org: Org) -> None:
    manager = org.actor("manager")
    customers_by_relation(org, manager)
    assert visible_names(manager, "change") == {"c-own", "c-same_team"}


def test_unregistered_model_is_a_loud_error(db: Any) -> None:
    from crm.core.models import TimelineEvent

    with pytest.raises(LookupError):
        access.visible_to(make_user(superuser=True), "view", TimelineEvent)


def test_api_token_scope_is_enforced_over_http(db: Any) -> None:
    # given an administrator token limited to viewing users' own identity
    from crm.identity.tokens import create_token

    admin = make_user(superuser=True)
    token, secret = create_token(admin, name="narrow", actor=admin)
    token.scopes = ["customers.customer:view"]
    token.save()
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    full = Client(headers={"Authorization": f"Bearer {make_token(admin)}"})
    # when the narrowed token asks for the audit log
    # then it is refused as if it did not exist, while a full token gets it
    assert client.get("/api/v1/audit-log").status_code == 404
    assert full.get("/api/v1/audit-log").status_code == 200


def test_manager_does_not_reach_personal_records(org: Org) -> None:
    # given a manager of team A2 and a token of a member of A2 (tokens are registered manager_reach=False)
    from crm.identity.models import ApiToken
    from crm.identity.tokens import create_token

    manager = user_in(org, "A1", Role.objects.get(code="manager"), manager_of=org.teams["A2"])
    create_token(org.owners["other_team"], name="personal", actor=None)
    # then the manager sees only their own tokens
    assert not access.visible_to(manager, "view", ApiToken).filter(user=org.owners["other_team"]).exists()
