"""Browser: the segment builder's live count follows the conditions as you type (htmx), on a phone too."""

from __future__ import annotations

from typing import Any

import pytest

from crm.customers.scoring.tests.factories import make_customer
from crm.testing.browser import PHONE, horizontal_overflow
from crm.testing.factories import make_user

pytestmark = pytest.mark.browser


def test_live_count_updates_while_editing(browser_page: Any) -> None:
    user = make_user(username="seg", superuser=True)
    for name, region in [("张三", "上海"), ("李四", "北京"), ("王五", "上海")]:
        make_customer(name=name, region=region)
    page = browser_page(user=user, language="en", viewport=PHONE)
    page.goto("/customers/segments/new/")
    page.select_option("select[name=field_0]", "region")
    page.select_option("select[name=op_0]", "eq")
    page.fill("input[name=value_0]", "上海")
    page.wait_for_function("document.querySelector('#segment-count').innerText.includes('2 customers match')")
    page.fill("input[name=value_0]", "北京")
    page.wait_for_function("document.querySelector('#segment-count').innerText.includes('1 customer matches')")
    page.click("text=Add a condition")
    page.wait_for_selector("select[name=field_3]")
    page.click("text=Add a condition")
    page.wait_for_selector("select[name=field_4]")
    assert not horizontal_overflow(page)
