"""Segment pages: builder (with and without htmx), live count, errors placed on their row, detail, static lists."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from crm.customers.models import Segment
from crm.customers.scoring.tests.factories import make_customer


@pytest.fixture
def people(db: Any) -> dict[str, Any]:
    return {
        name: make_customer(name=name, region=region)
        for name, region in [("张三", "上海"), ("李四", "北京"), ("王五", "上海")]
    }


def test_builder_saves_a_dynamic_segment_without_javascript(people: dict[str, Any], admin_client: Client) -> None:
    page = admin_client.get("/customers/segments/new/")
    assert page.status_code == 200
    response = admin_client.post(
        "/customers/segments/new/",
        {
            "name": "上海客户",
            "kind": "dynamic",
            "match": "all",
            "field_0": "region",
            "op_0": "eq",
            "value_0": "上海",
            "action": "save",
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.definition == {"match": "all", "conditions": [{"field": "region", "op": "eq", "value": "上海"}]}
    detail = admin_client.get(response["Location"]).content.decode()
    assert "张三" in detail
    assert "王五" in detail
    assert "李四" not in detail


def test_count_button_previews_without_saving(people: dict[str, Any], admin_client: Client) -> None:
    response = admin_client.post(
        "/customers/segments/new/",
        {"name": "x", "kind": "dynamic", "field_0": "region", "op_0": "eq", "value_0": "上海", "action": "preview"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "2 customers match" in response.content.decode()
    assert not Segment.objects.exists()


def test_htmx_live_count_partial(people: dict[str, Any], admin_client: Client) -> None:
    response = admin_client.post(
        "/customers/segments/preview/",
        {"field_0": "region", "op_0": "eq", "value_0": "北京"},
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    html = response.content.decode()
    assert html.startswith('<div id="segment-count"')
    assert "1 customer matches" in html
    assert "<html" not in html


def test_builder_places_errors_on_the_bad_row(people: dict[str, Any], admin_client: Client) -> None:
    response = admin_client.post(
        "/customers/segments/new/",
        {
            "name": "坏的",
            "kind": "dynamic",
            "field_0": "region",
            "op_0": "eq",
            "value_0": "上海",
            "field_1": "region",
            "op_1": "gt",
            "value_1": "x",
            "action": "save",
        },
    )
    assert response.status_code == 422
    html = response.content.decode()
    row_1 = html.split('name="field_1"')[1].split("</fieldset>")[0]
    assert "field-error" in row_1
    assert not Segment.objects.exists()


def test_condition_row_partial_for_htmx(admin_client: Client) -> None:
    html = admin_client.get("/customers/segments/condition-row/?index=7").content.decode()
    assert 'name="field_7"' in html
    assert "<html" not in html


def test_static_list_page_adds_and_removes_members(people: dict[str, Any], admin_client: Client) -> None:
    admin_client.post("/customers/segments/new/", {"name": "名单", "kind": "static", "action": "save"})
    segment = Segment.objects.get()
    url = f"/customers/segments/{segment.pk}/members/"
    admin_client.post(url, {"customer_ids": f"{people['张三'].pk}，{people['李四'].pk}", "action": "add"})
    assert set(segment.members.values_list("name", flat=True)) == {"张三", "李四"}
    admin_client.post(url, {"customer_ids": str(people["张三"].pk), "action": "remove"})
    assert set(segment.members.values_list("name", flat=True)) == {"李四"}
    bad = admin_client.post(url, {"customer_ids": "abc", "action": "add"}, follow=True)
    assert bad.status_code == 200


def test_edit_and_delete(people: dict[str, Any], admin_client: Client) -> None:
    admin_client.post(
        "/customers/segments/new/",
        {"name": "旧", "kind": "dynamic", "field_0": "region", "op_0": "eq", "value_0": "北京", "action": "save"},
    )
    segment = Segment.objects.get()
    edit = admin_client.get(f"/customers/segments/{segment.pk}/edit/").content.decode()
    assert 'value="北京"' in edit
    admin_client.post(
        f"/customers/segments/{segment.pk}/edit/",
        {"name": "新", "version": "1", "field_0": "region", "op_0": "eq", "value_0": "上海", "action": "save"},
    )
    segment.refresh_from_db()
    assert (segment.name, segment.version) == ("新", 2)
    stale = admin_client.post(
        f"/customers/segments/{segment.pk}/edit/", {"name": "再改", "version": "1", "action": "save"}
    )
    assert stale.status_code == 412
    admin_client.post(f"/customers/segments/{segment.pk}/delete/")
    assert not Segment.objects.exists()
    assert admin_client.get("/customers/segments/").status_code == 200


def test_segment_of_nobody_visible_is_404_on_pages(people: dict[str, Any], admin_client: Client) -> None:
    assert admin_client.get("/customers/segments/424242/").status_code == 404


def test_segments_panel_on_marketing_and_customers_pages(people: dict[str, Any], admin_client: Client) -> None:
    admin_client.post("/customers/segments/new/", {"name": "春节名单", "kind": "static", "action": "save"})
    for url in ("/marketing/", "/customers-home/"):
        html = admin_client.get(url).content.decode()
        assert 'data-testid="segments-panel"' in html
        assert "春节名单" in html


def test_segment_list_api_runs_a_constant_number_of_queries(
    people: dict[str, Any], api_client: Client, django_assert_max_num_queries: Any
) -> None:
    for i in range(6):
        api_client.post("/api/v1/segments", {"name": f"名单{i}", "kind": "static"}, content_type="application/json")
    for limit in (1, 6):
        with django_assert_max_num_queries(8):
            page = api_client.get(f"/api/v1/segments?limit={limit}").json()
        assert len(page["items"]) == limit
