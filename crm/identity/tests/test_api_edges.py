"""Edge cases of the identity API: bad input never 500s, lists keep a constant query count."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from crm.identity import services
from crm.identity.models import ApiToken, Department, Role, Team, User
from crm.testing.factories import make_token, make_user


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def patch(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_password_rules_answer_in_the_users_language(api_client: Client) -> None:
    response = post(
        api_client, "/api/v1/users", {"username": "wang", "password": "12345"}, **{"Accept-Language": "zh-hans"}
    )
    assert response.status_code == 422
    messages = [e["message"] for e in response.json()["errors"] if e["field"] == "password"]
    assert messages
    assert any("密码" in m for m in messages)
    english = post(api_client, "/api/v1/users", {"username": "wang", "password": "12345"}, **{"Accept-Language": "en"})
    assert any("password" in e["message"].lower() for e in english.json()["errors"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "body", "headers"),
    [
        ("get", "/api/v1/users?cursor=%%%", None, {}),
        ("get", "/api/v1/users?limit=abc", None, {}),
        ("get", "/api/v1/users/notanumber", None, {}),
        ("patch", "/api/v1/users/{me}", {"display_name": "x"}, {"If-Match": "garbage"}),
        ("patch", "/api/v1/users/{me}", {"nonsense": 1}, {}),
        ("patch", "/api/v1/users/{me}", {"language": "klingon"}, {}),
        ("patch", "/api/v1/users/{me}", {"time_zone": "Mars/Olympus"}, {}),
        ("patch", "/api/v1/users/{me}", {"team_id": 999999}, {}),
        ("post", "/api/v1/roles", {"name": "x", "grants": {"identity.user": "all"}}, {}),
        ("post", "/api/v1/roles", {"name": "x", "field_rules": {"identity.user": {"nofield": "hidden"}}}, {}),
        ("post", "/api/v1/tokens", {"name": "x", "expires_days": 0}, {}),
        ("post", "/api/v1/tokens", {"name": "x", "expires_at": "not a date"}, {}),
        ("post", "/api/v1/teams", {"name": "x", "department_id": "abc"}, {}),
        ("post", "/api/v1/departments", [1, 2], {}),
    ],
)
def test_bad_input_is_a_4xx_problem(
    api_client: Client, admin_user: User, method: str, url: str, body: Any, headers: dict[str, str]
) -> None:
    url = url.format(me=admin_user.pk)
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    response = getattr(api_client, method)(url, **kwargs)
    assert 400 <= response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    admin_user.refresh_from_db()
    assert admin_user.version == 1


@pytest.mark.django_db
def test_roles_with_users_and_built_in_roles_cannot_be_deleted(api_client: Client) -> None:
    custom = post(api_client, "/api/v1/roles", {"name": "Temp"}).json()
    make_user(username="holder", role=Role.objects.get(pk=custom["id"]))
    assert api_client.delete(f"/api/v1/roles/{custom['id']}").status_code == 409
    builtin = Role.objects.get(code="read_only")
    assert api_client.delete(f"/api/v1/roles/{builtin.pk}").status_code == 409
    assert Role.objects.filter(pk=custom["id"]).exists()


@pytest.mark.django_db
def test_patch_is_active_false_revokes_tokens(api_client: Client) -> None:
    user = make_user(username="leaver")
    secret = make_token(user)
    response = patch(api_client, f"/api/v1/users/{user.pk}", {"is_active": False})
    assert response.status_code == 200
    assert Client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert ApiToken.objects.get(user=user).revoked_at is not None


@pytest.mark.django_db
def test_manager_of_is_editable_and_listed(api_client: Client, team_a: Team) -> None:
    user = make_user(username="lead", team=team_a, department=team_a.department)
    response = patch(api_client, f"/api/v1/users/{user.pk}", {"manager_of_id": team_a.pk})
    assert response.json()["manager_of_id"] == team_a.pk
    cleared = patch(api_client, f"/api/v1/users/{user.pk}", {"manager_of_id": None})
    assert cleared.json()["manager_of_id"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("collection", ["roles", "departments", "teams", "tokens"])
def test_list_query_count_is_constant(
    api_client: Client, admin_user: User, collection: str, django_assert_max_num_queries: Any
) -> None:
    department = Department.objects.create(name="基数", code="base")
    for i in range(25):
        services.create_role(
            actor=None,
            name=f"角色{i}",
            grants={"identity.user": {"view": "all"}},
            field_rules={"identity.user": {"email": "hidden"}},
        )
        services.create_department(actor=None, name=f"部门{i}")
        Team.objects.create(department=department, name=f"组{i}")
        make_token(admin_user, name=f"t{i}")
    url = f"/api/v1/{collection}" + ("?all=true&" if collection == "tokens" else "?")
    with django_assert_max_num_queries(9):
        small = api_client.get(url + "limit=2")
    with django_assert_max_num_queries(9):
        big = api_client.get(url + "limit=25")
    assert len(small.json()["items"]) == 2
    assert len(big.json()["items"]) == 25
