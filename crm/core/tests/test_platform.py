"""Platform conventions over real HTTP: health, problem+json, UTF-8, auth."""

import json

import pytest
from django.test import Client


@pytest.mark.django_db
def test_healthz_answers_ok(client: Client) -> None:
    # when
    response = client.get("/healthz")
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_unknown_api_route_is_problem_json(api_client: Client) -> None:
    response = api_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


@pytest.mark.django_db
def test_api_requires_authentication(client: Client) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/problem+json")


@pytest.mark.django_db
def test_bad_token_is_401(client: Client) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer crm_nope"})
    assert response.status_code == 401


@pytest.mark.django_db
def test_chinese_is_utf8_not_escaped(client: Client) -> None:
    from crm.testing.factories import make_token, make_user

    user = make_user(display_name="王五")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {make_token(user)}"})
    assert response.status_code == 200
    assert "王五".encode() in response.content
    assert b"\\u738b" not in response.content
    assert json.loads(response.content)["display_name"] == "王五"


@pytest.mark.django_db
def test_unknown_page_is_friendly_html(admin_client: Client) -> None:
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"<html" in response.content
