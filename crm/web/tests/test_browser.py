"""The web shell in a real browser: login, language switch, navigation, phone layout, no-JS use."""

from __future__ import annotations

from typing import Any

import pytest

from crm.testing.browser import PHONE, horizontal_overflow
from crm.testing.factories import make_user

pytestmark = pytest.mark.browser

MODULES = {
    "customers": ("Customers", "客户"),
    "sales": ("Sales", "销售"),
    "service": ("Service", "服务"),
    "marketing": ("Marketing", "市场营销"),
    "collaboration": ("Collaboration", "协作"),
    "analytics": ("Analytics", "分析"),
    "admin": ("Administration", "系统管理"),
}


def test_login_with_the_form_then_log_out(browser_page: Any, screenshot: Any) -> None:
    # given
    make_user(username="ann", password="correct horse battery staple")
    page = browser_page()
    # when
    page.goto("/")
    assert "/login/" in page.url
    screenshot(page, "login-en")
    page.fill("#id_username", "ann")
    page.fill("#id_password", "correct horse battery staple")
    page.click("[data-testid=login-submit]")
    # then
    assert page.locator("h1").inner_text().startswith("Welcome")
    screenshot(page, "home-en")
    page.click("[data-testid=logout]")
    assert "/login/" in page.url


def test_wrong_password_shows_an_error_and_stays_on_the_login_page(browser_page: Any) -> None:
    make_user(username="bob", password="correct horse battery staple")
    page = browser_page()
    page.goto("/login/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", "wrong")
    page.click("[data-testid=login-submit]")
    assert "/login/" in page.url
    assert page.locator("[role=alert]").count() == 1


def test_language_switch_changes_the_text(browser_page: Any, screenshot: Any) -> None:
    # given: an English session
    page = browser_page(user=make_user(username="cai", superuser=True))
    page.goto("/")
    assert page.locator("[data-nav=customers]").inner_text().strip().endswith("Customers")
    # when: the user picks 简体中文
    page.select_option("[data-testid=language-select]", "zh-hans")
    page.wait_for_selector("html[lang=zh-hans]")
    # then
    assert page.locator("[data-nav=customers]").inner_text().strip().endswith("客户")
    assert page.locator("[data-testid=logout]").inner_text() == "退出登录"
    screenshot(page, "home-zh")
    # and back to English
    page.select_option("[data-testid=language-select]", "en")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("[data-testid=logout]").inner_text() == "Log out"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_module_is_reachable_from_the_navigation(browser_page: Any, language: str) -> None:
    page = browser_page(user=make_user(username="dan", superuser=True), language=language)
    page.goto("/")
    for key, (english, chinese) in MODULES.items():
        page.click(f"[data-nav={key}]")
        label = english if language == "en" else chinese
        # the module's own page may be more specific ("Customer analytics" for "Analytics")
        assert label.casefold() in page.locator("h1").first.inner_text().casefold(), key
        assert page.locator(f"[data-nav={key}]").get_attribute("aria-current") == "page"


def test_phone_layout_has_no_sideways_scrolling(browser_page: Any, screenshot: Any) -> None:
    # given: a 375-px phone, logged in, in Chinese
    page = browser_page(user=make_user(username="eve", superuser=True), language="zh-hans", viewport=PHONE)
    # then: every shell page fits the width
    for path in ["/", "/sales/", "/service/", "/marketing/", "/collaboration/", "/analytics/", "/administration/"]:
        page.goto(path)
        assert horizontal_overflow(page) <= 0, path
    # and the menu opens and navigates on a phone
    page.goto("/")
    screenshot(page, "home-phone-zh")
    page.click("#main-menu summary")
    page.click("[data-nav=sales]")
    assert page.locator("h1").first.inner_text() == "销售"


def test_login_page_fits_a_phone(browser_page: Any, screenshot: Any) -> None:
    page = browser_page(viewport=PHONE, language="zh-hans")
    page.goto("/login/")
    assert page.locator("h1").inner_text() == "登录"
    assert horizontal_overflow(page) <= 0
    screenshot(page, "login-phone-zh")


def test_works_without_javascript(browser_page: Any) -> None:
    # given: a browser with JavaScript off
    page = browser_page(user=make_user(username="fay", superuser=True), javascript=False)
    page.goto("/")
    # when: the language form is submitted with its fallback button, and the menu is opened
    page.select_option("[data-testid=language-select]", "zh-hans")
    page.click(".lang-switch button[type=submit]")
    # then
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.click("#main-menu summary")
    page.click("[data-nav=service]")
    assert page.locator("h1").first.inner_text() == "服务"


def test_unknown_page_is_friendly(browser_page: Any) -> None:
    page = browser_page(user=make_user(username="gus"))
    response = page.goto("/no-such-page/")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    assert page.locator("a[href='/']").count() >= 1
