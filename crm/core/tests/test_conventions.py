"""API conventions over HTTP through the full middleware stack: idempotency, versions, errors, pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from crm.core.models import AuditEntry
from crm.customers.models import Product

pytestmark = [pytest.mark.django_db, pytest.mark.urls("crm.core.tests.urls")]

URL = "/api/test/products"


def post(client: Client, body: Any, **headers: str) -> Any:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, data=raw, content_type="application/json", headers=headers)


def test_idempotent_post_replayed_ten_times_creates_one_object(api_client: Client) -> None:
    # given
    body = {"sku": "IDEM-1", "name": "茶叶礼盒", "list_price": "88.00"}
    # when
    responses = [post(api_client, body, **{"Idempotency-Key": "k-1"}) for _ in range(10)]
    # then
    assert {r.status_code for r in responses} == {201}
    assert len({r.content for r in responses}) == 1
    assert Product.objects.filter(sku="IDEM-1").count() == 1
    assert [r.headers.get("Idempotent-Replayed") for r in responses[1:]] == ["true"] * 9
    assert AuditEntry.objects.filter(verb="create", object_type="customers.product").count() == 1


def test_same_key_different_body_is_422_and_writes_nothing(api_client: Client) -> None:
    # given
    post(api_client, {"sku": "IDEM-2", "name": "A", "list_price": "1"}, **{"Idempotency-Key": "k-2"})
    # when
    response = post(api_client, {"sku": "IDEM-3", "name": "B", "list_price": "1"}, **{"Idempotency-Key": "k-2"})
    # then
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert not Product.objects.filter(sku="IDEM-3").exists()


def test_keys_are_per_user(api_client: Client) -> None:
    # given: another user's client reuses the same key with another body
    from crm.testing.factories import make_token, make_user

    other = Client(headers={"Authorization": f"Bearer {make_token(make_user())}"})
    post(api_client, {"sku": "U-1", "name": "A", "list_price": "1"}, **{"Idempotency-Key": "shared"})
    # when
    response = post(other, {"sku": "U-2", "name": "B", "list_price": "1"}, **{"Idempotency-Key": "shared"})
    # then
    assert response.status_code == 201
    assert Product.objects.filter(sku__in=["U-1", "U-2"]).count() == 2


def test_post_without_key_creates_each_time(api_client: Client) -> None:
    post(api_client, {"sku": "N-1", "name": "A", "list_price": "1"})
    response = post(api_client, {"sku": "N-1", "name": "A", "list_price": "1"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "sku", "message": "This SKU is already used."}]


def _product(**fields: Any) -> Product:
    defaults: dict[str, Any] = {"sku": "P-1", "name": "原名", "list_price": "10.00"}
    return Product.objects.create(**{**defaults, **fields})


def test_stale_patch_is_412_and_writes_nothing(api_client: Client) -> None:
    # given: someone already moved the record to version 2
    product = _product(version=2)
    # when
    response = api_client.patch(
        f"{URL}/{product.pk}", data={"name": "新名", "version": 1}, content_type="application/json"
    )
    # then
    assert response.status_code == 412
    assert response["Content-Type"].startswith("application/problem+json")
    product.refresh_from_db()
    assert (product.name, product.version) == ("原名", 2)
    assert not AuditEntry.objects.filter(verb="change").exists()


def test_stale_if_match_is_412(api_client: Client) -> None:
    product = _product(version=3)
    response = api_client.patch(
        f"{URL}/{product.pk}", data={"name": "X"}, content_type="application/json", headers={"If-Match": '"2"'}
    )
    assert response.status_code == 412
    product.refresh_from_db()
    assert product.name == "原名"


def test_current_version_patch_succeeds_and_bumps_version(api_client: Client) -> None:
    product = _product(version=1)
    response = api_client.patch(
        f"{URL}/{product.pk}", data={"name": "新名", "version": 1}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["name"] == "新名"


def test_malformed_json_is_400_problem(api_client: Client) -> None:
    response = post(api_client, '{"sku": "X", ')
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert "JSON" in response.json()["detail"]
    assert not Product.objects.exists()


def test_wrong_types_are_422_with_one_error_per_field(api_client: Client) -> None:
    response = post(api_client, {"sku": "", "name": 12, "list_price": "lots"})
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"sku", "name", "list_price"}
    assert not Product.objects.exists()


def test_wrong_types_are_reported_in_chinese_for_chinese_users(api_client: Client) -> None:
    response = post(api_client, {"sku": "A", "name": "B"}, **{"Accept-Language": "zh-hans"})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "list_price"
    assert "必填" in error["message"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversize_body_is_413_problem(api_client: Client) -> None:
    body = {"sku": "BIG", "name": "x" * 2000, "list_price": "1"}
    response = post(api_client, body, **{"Idempotency-Key": "big"})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/problem+json")
    assert not Product.objects.exists()


def test_unknown_api_route_is_404_problem(api_client: Client) -> None:
    response = api_client.get("/api/test/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


def test_chinese_is_not_escaped(api_client: Client) -> None:
    response = post(api_client, {"sku": "ZH", "name": "王五的茶", "list_price": "1"})
    assert "王五的茶".encode() in response.content
    assert b"\\u" not in response.content


def test_cursor_pagination_is_stable_under_inserts(api_client: Client) -> None:
    # given: 7 products with duplicate names, so the order needs the id tie-breaker
    for i in range(7):
        _product(sku=f"S-{i}", name=f"name-{i // 2}")
    # when: read page 1, insert a row that sorts before the cursor, then read on
    first = api_client.get(URL, {"limit": 3}).json()
    _product(sku="S-early", name="name-0")
    seen = [item["sku"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api_client.get(URL, {"limit": 3, "cursor": cursor}).json()
        seen += [item["sku"] for item in page["items"]]
        cursor = page["next_cursor"]
    # then: every original row exactly once, in (name, id) order
    assert seen == ["S-0", "S-1", "S-2", "S-3", "S-4", "S-5", "S-6"]


def test_list_query_count_is_constant(api_client: Client, django_assert_max_num_queries: Any) -> None:
    for i in range(30):
        _product(sku=f"Q-{i}", name=f"q{i:02}")
    with django_assert_max_num_queries(3):
        response = api_client.get(URL, {"limit": 25})
    assert len(response.json()["items"]) == 25


def test_bad_cursor_is_a_4xx_problem(api_client: Client) -> None:
    response = api_client.get(URL, {"cursor": "!!not-base64!!"})
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/problem+json")


def test_session_post_without_csrf_is_refused(admin_user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = post(client, {"sku": "C", "name": "A", "list_price": "1"})
    assert response.status_code in (401, 403)
    assert not Product.objects.exists()


def test_garbage_if_match_is_a_400_problem(api_client: Client) -> None:
    product = _product(version=1)
    response = api_client.patch(
        f"{URL}/{product.pk}", data={"name": "X"}, content_type="application/json", headers={"If-Match": "abc"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "If-Match"
    product.refresh_from_db()
    assert product.name == "原名"


def test_weak_etag_if_match_is_accepted(api_client: Client) -> None:
    product = _product(version=4)
    response = api_client.patch(
        f"{URL}/{product.pk}", data={"name": "Y"}, content_type="application/json", headers={"If-Match": 'W/"4"'}
    )
    assert response.status_code == 200
    assert response.json()["version"] == 5
