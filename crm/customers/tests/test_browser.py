"""Customer pages in a real browser: typeahead search, inline validation, 360 on a phone, no-JS list."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from crm.customers import services
from crm.testing.browser import PHONE, horizontal_overflow
from crm.testing.factories import make_user

pytestmark = pytest.mark.browser


def _customer_with_history(admin: Any) -> Any:
    customer = services.create_customer(
        actor=admin, data={"name": "张三", "company_name": "上海茶叶有限公司", "phone": "13800138000", "city": "上海"}
    )
    for days in (3, 40, 200):
        services.create_order(
            customer,
            actor=admin,
            data={
                "ordered_at": (timezone.now() - dt.timedelta(days=days)).isoformat(),
                "lines": [{"name": "西湖龙井礼盒装（特级）", "quantity": 2, "unit_price": "268.00"}],
            },
        )
    return customer


def test_typeahead_finds_a_two_character_chinese_name(browser_page: Any, screenshot: Any) -> None:
    admin = make_user(username="boss", superuser=True)
    customer = _customer_with_history(admin)
    page = browser_page(user=admin, language="zh-hans")
    page.goto("/customers/")
    page.fill("#customer-search", "张三")
    page.wait_for_selector("#search-suggestions a")
    assert "张三" in page.inner_text("#search-suggestions")
    screenshot(page, "customer-search-zh")
    page.click("#search-suggestions a")
    page.wait_for_url(f"**/customers/{customer.pk}/")


def test_inline_validation_marks_a_bad_email_before_saving(browser_page: Any) -> None:
    admin = make_user(username="boss", superuser=True)
    page = browser_page(user=admin, language="en")
    page.goto("/customers/new/")
    page.fill("#id_name", "Ann Lee")
    page.fill("#id_email", "not-an-email")
    page.press("#id_email", "Tab")
    page.wait_for_selector("#err-email .field-error")
    assert "valid e-mail" in page.inner_text("#err-email")


def test_360_page_fits_a_phone_in_chinese(browser_page: Any, screenshot: Any) -> None:
    admin = make_user(username="boss", superuser=True)
    customer = _customer_with_history(admin)
    page = browser_page(user=admin, language="zh-hans", viewport=PHONE)
    page.goto(f"/customers/{customer.pk}/")
    assert "时间线" in page.inner_text("main")
    assert not horizontal_overflow(page)
    screenshot(page, "customer-360-phone-zh")


def test_list_filters_work_without_javascript(browser_page: Any) -> None:
    admin = make_user(username="boss", superuser=True)
    _customer_with_history(admin)
    services.create_customer(actor=admin, data={"name": "李四", "city": "北京"})
    page = browser_page(user=admin, language="en", javascript=False)
    page.goto("/customers/")
    page.click("details.filters summary")
    page.fill("#f-city", "北京")
    page.click("#filter-form button[type=submit]")
    table = page.inner_text("table.customer-table")
    assert "李四" in table
    assert "张三" not in table
