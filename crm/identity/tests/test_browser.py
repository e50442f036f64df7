"""Identity pages in a real browser: TOTP login, profile and administration on a phone, without JS."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from crm.identity.models import Department, Role, Team, TotpDevice
from crm.testing.browser import PHONE, horizontal_overflow
from crm.testing.factories import make_user

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


def test_login_with_two_factor_code(browser_page: Any, screenshot: Any) -> None:
    # given a user with TOTP
    user = make_user(username="alice")
    secret = pyotp.random_base32()
    from django.utils import timezone

    TotpDevice.objects.create(user=user, secret=secret, confirmed_at=timezone.now())
    page = browser_page(language="zh-hans")
    # when they log in with password, then code
    page.goto("/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("[data-testid=login-submit]")
    page.wait_for_url("**/identity/login/verify/")
    screenshot(page, "login-two-factor-zh")
    page.fill("#id_code", pyotp.TOTP(secret).now())
    page.click("[data-testid=totp-submit]")
    # then they are in
    page.wait_for_url("**/")
    assert page.locator("[data-testid=profile-link]").is_visible()


def test_profile_setup_and_token_on_a_phone_without_javascript(browser_page: Any, screenshot: Any) -> None:
    user = make_user(username="bob")
    page = browser_page(user=user, language="zh-hans", viewport=PHONE, javascript=False)
    page.goto("/identity/profile/")
    page.click("[data-testid=totp-begin]")
    assert page.locator("[data-testid=totp-qr] svg").count() == 1
    secret = page.locator("[data-testid=totp-secret]").inner_text().strip()
    page.fill("#two-factor input[name=code]", pyotp.TOTP(secret).now())
    page.click("[data-testid=totp-confirm]")
    assert page.locator("[data-testid=totp-status]").inner_text().strip() == "已开启"
    page.fill("#tokens input[name=name]", "脚本")
    page.click("[data-testid=token-create]")
    assert page.locator("[data-testid=new-token]").inner_text().startswith("crm_")
    screenshot(page, "profile-phone-zh")
    assert horizontal_overflow(page) == 0


def test_admin_users_page_fits_a_phone_and_search_filters(browser_page: Any, screenshot: Any) -> None:
    admin = make_user(username="root", superuser=True)
    sales = Department.objects.create(name="销售部", code="sales")
    team = Team.objects.create(department=sales, name="一组")
    make_user(username="sales1", display_name="孙丽", team=team, department=sales, role=Role.objects.get(code="member"))
    make_user(username="service1", display_name="王芳")
    page = browser_page(user=admin, language="zh-hans", viewport=PHONE)
    page.goto("/identity/admin/users/")
    page.fill("#q", "孙")
    page.wait_for_function("!document.querySelector('#user-table').innerText.includes('service1')")
    assert "sales1" in page.locator("#user-table").inner_text()
    screenshot(page, "admin-users-phone-zh")
    assert horizontal_overflow(page) == 0
