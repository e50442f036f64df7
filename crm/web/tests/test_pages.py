"""Shell pages over HTTP: login redirect, navigation per role, language switch, error pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from crm.testing.factories import make_user

pytestmark = pytest.mark.django_db


def test_anonymous_user_is_sent_to_login(client: Client) -> None:
    response = client.get("/sales/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/sales/")


def test_login_page_renders_in_chinese_by_default(client: Client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200
    assert "登录".encode() in response.content
    assert b'lang="zh-hans"' in response.content


def test_home_links_every_department_module(admin_client: Client) -> None:
    response = admin_client.get("/", headers={"Accept-Language": "en"})
    html = response.content.decode()
    for key in ("customers", "sales", "service", "marketing", "collaboration", "analytics", "admin"):
        assert f'data-nav="{key}"' in html


def test_members_do_not_see_administration(client: Client) -> None:
    client.force_login(make_user(username="member"))
    html = client.get("/").content.decode()
    assert 'data-nav="sales"' in html
    assert 'data-nav="admin"' not in html


def test_language_switch_sets_the_language_and_returns(admin_client: Client) -> None:
    response = admin_client.post("/i18n/setlang/", {"language": "en", "next": "/sales/"})
    assert response.status_code == 302
    assert response["Location"] == "/sales/"
    page = admin_client.get("/sales/")
    assert b'lang="en"' in page.content
    assert b"Log out" in page.content


def test_logout_needs_post(admin_client: Client) -> None:
    assert admin_client.get("/logout/").status_code == 405
    response = admin_client.post("/logout/")
    assert response.status_code == 302
    assert admin_client.get("/").status_code == 302


@pytest.mark.urls("crm.web.tests.boom_urls")
def test_server_error_page_is_friendly_html(admin_user: Any) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get("/boom/", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert b"<html" in response.content
    assert b"Server error" in response.content
    assert b"RuntimeError" not in response.content


def test_unknown_page_is_friendly_html_in_the_users_language(admin_client: Client) -> None:
    response = admin_client.get("/nowhere/", headers={"Accept-Language": "zh-hans"})
    assert response.status_code == 404
    assert "页面不存在".encode() in response.content


def test_pages_use_no_third_party_hosts(admin_client: Client) -> None:
    html = admin_client.get("/").content.decode()
    assert "https://" not in html
    assert "/static/vendor/htmx.org/dist/htmx.min.js" in html


def test_vendor_assets_are_served(admin_client: Client) -> None:
    response = admin_client.get("/static/vendor/htmx.org/dist/htmx.min.js")
    assert response.status_code == 200
