"""Scores through the API and the pages: reasons, access scope, contact-today, analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from crm.core.access import Scope
from crm.customers.choices import NeedLevel
from crm.customers.scoring import compute
from crm.customers.scoring.tests.factories import make_customer, make_need, make_order, make_role_user
from crm.testing.factories import make_token

NOW = datetime.now(UTC)


@pytest.fixture
def sellers(db: Any) -> dict[str, Any]:
    """Two sellers who may only see their own customers; Li has 3 buyers, Wang has 2."""
    grants = {"customers.customer": {"view": Scope.OWN}}
    li = make_role_user(username="li", grants=grants)
    wang = make_role_user(username="wang", grants=grants)
    customers = {}
    for i, (owner, name) in enumerate([(li, "李一"), (li, "李二"), (li, "李三"), (wang, "王一"), (wang, "王二")]):
        customer = make_customer(name=name, owner=owner)
        customers[name] = customer
        for k in range(i + 1):
            make_order(customer=customer, at=NOW - timedelta(days=10 + 30 * k + i), total=f"{100 * (i + 1)}.00")
    make_need(customer=customers["李二"], level=NeedLevel.URGENT)
    compute.recompute_full()
    return {"li": li, "wang": wang, **customers}


def _client(user: Any) -> Client:
    return Client(headers={"Authorization": f"Bearer {make_token(user)}"})


def test_customer_scores_endpoint_returns_scores_with_written_reasons(sellers: dict[str, Any]) -> None:
    response = _client(sellers["li"]).get(f"/api/v1/customers/{sellers['李二'].pk}/scores", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert body["scored"] is True
    assert body["frequency"] == 2
    assert body["monetary"] == "400.00"
    assert body["urgent_needs"] == 1
    assert "urgent need open" in body["reasons_text"]
    assert any(r["code"] == "urgent_needs" and r["text"] == "urgent need open" for r in body["reasons"])


def test_customer_scores_of_someone_elses_customer_is_404(sellers: dict[str, Any]) -> None:
    response = _client(sellers["li"]).get(f"/api/v1/customers/{sellers['王一'].pk}/scores")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert _client(sellers["li"]).get("/api/v1/customers/999999/scores").status_code == 404


def test_unscored_customer_answers_scored_false(sellers: dict[str, Any]) -> None:
    quiet = make_customer(name="没买过", owner=sellers["li"])
    body = _client(sellers["li"]).get(f"/api/v1/customers/{quiet.pk}/scores").json()
    assert body == {**body, "scored": False, "frequency": 0, "reasons": []}


def test_analytics_counts_only_rows_the_user_may_see(sellers: dict[str, Any], api_client: Client) -> None:
    li = _client(sellers["li"]).get("/api/v1/scores/analytics").json()
    wang = _client(sellers["wang"]).get("/api/v1/scores/analytics").json()
    admin = api_client.get("/api/v1/scores/analytics").json()
    assert (li["total"], wang["total"], admin["total"]) == (3, 2, 5)
    assert sum(sum(row) for row in li["rfm_grid"]) == 3
    assert sum(t["count"] for t in wang["tiers"]) == 2
    assert {c["name"] for c in li["top"]} == {"李一", "李二", "李三"}
    assert sum(v["count"] for v in admin["values"]) == 5


def test_a_user_without_any_grant_sees_empty_analytics(sellers: dict[str, Any]) -> None:
    nobody = make_role_user(username="nobody", grants={})
    body = _client(nobody).get("/api/v1/scores/analytics").json()
    assert body["total"] == 0
    assert body["top"] == []


def test_contact_today_lists_own_customers_by_priority(sellers: dict[str, Any]) -> None:
    rows = _client(sellers["li"]).get("/api/v1/scores/contact-today", HTTP_ACCEPT_LANGUAGE="en").json()
    assert next(r["name"] for r in rows) == "李二"
    assert {r["name"] for r in rows} <= {"李一", "李二", "李三"}
    assert rows == sorted(rows, key=lambda r: -r["priority_score"])


def test_pages_render_and_are_scoped(sellers: dict[str, Any]) -> None:
    client = Client()
    client.force_login(sellers["wang"])
    page = client.get("/customers/scores/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "echarts.min.js" in html
    assert "王一" in html
    assert "李一" not in html
    today = client.get("/customers/scores/contact-today/")
    assert today.status_code == 200
    assert "李二" not in today.content.decode()
    data = client.get("/customers/scores/analytics.json").json()
    assert data["total"] == 2


def test_sales_landing_page_shows_the_contact_today_panel(sellers: dict[str, Any]) -> None:
    client = Client()
    client.force_login(sellers["li"])
    html = client.get("/sales/").content.decode()
    assert 'data-testid="contact-today-panel"' in html
    assert "李二" in html
    home = client.get("/customers-home/").content.decode()
    assert 'data-testid="contact-today-panel"' in home


def test_analytics_nav_entry_points_at_the_analytics_page(sellers: dict[str, Any]) -> None:
    client = Client()
    client.force_login(sellers["li"])
    html = client.get("/customers/scores/").content.decode()
    assert 'href="/customers/scores/" data-nav="analytics"' in html


def test_openapi_lists_the_scores_and_segments_endpoints(api_client: Client) -> None:
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/customers/{customer_id}/scores",
        "/api/v1/scores/analytics",
        "/api/v1/scores/contact-today",
        "/api/v1/segments",
        "/api/v1/segments/{segment_id}",
        "/api/v1/segments/{segment_id}/customers",
        "/api/v1/segments/preview",
    ):
        assert path in paths, path
