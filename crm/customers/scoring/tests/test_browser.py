"""Browser: the analytics charts draw, and the analytics and contact-today pages fit a 375-px phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.customers.choices import NeedLevel
from crm.customers.scoring import compute
from crm.customers.scoring.tests.factories import make_customer, make_need, make_order
from crm.testing.browser import PHONE, horizontal_overflow
from crm.testing.factories import make_user

pytestmark = pytest.mark.browser


def _shop(owner: Any) -> None:
    now = datetime.now(UTC)
    for i in range(12):
        customer = make_customer(name=f"客户{i}", owner=owner)
        for k in range(1 + i % 4):
            make_order(customer=customer, at=now - timedelta(days=5 + 20 * k + 7 * i), total=f"{50 + 10 * i}.00")
        if i % 5 == 0:
            make_need(customer=customer, level=NeedLevel.URGENT)
    compute.recompute_full()


def test_analytics_charts_draw_without_script_errors(browser_page: Any) -> None:
    user = make_user(username="ana", superuser=True)
    _shop(user)
    page = browser_page(user=user, language="zh-hans")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/customers/scores/")
    for chart in ("chart-segments", "chart-tiers", "chart-grid", "chart-values"):
        page.wait_for_selector(f"#{chart} canvas")
    assert errors == []
    assert page.locator("h1").first.inner_text() == "分析"


@pytest.mark.parametrize("path", ["/customers/scores/", "/customers/scores/contact-today/", "/sales/"])
def test_pages_fit_a_phone(browser_page: Any, path: str) -> None:
    user = make_user(username="phone", superuser=True)
    _shop(user)
    page = browser_page(user=user, language="zh-hans", viewport=PHONE)
    page.goto(path)
    assert not horizontal_overflow(page)
