"""Pages: list with filters and bulk actions, search typeahead, 360, forms with inline errors; zh and en."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from crm.customers import services
from crm.customers.models import Customer, Need, Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def zhang(admin_user: Any) -> Customer:
    customer = services.create_customer(
        actor=admin_user, data={"name": "张三", "company_name": "茶叶公司", "city": "上海", "phone": "13800138000"}
    )
    services.create_order(
        customer,
        actor=admin_user,
        data={
            "ordered_at": (timezone.now() - dt.timedelta(days=3)).isoformat(),
            "lines": [{"name": "龙井", "quantity": 1, "unit_price": "100"}],
        },
    )
    return customer


def test_list_filters_and_htmx_partial(admin_client: Client, zhang: Customer, admin_user: Any) -> None:
    services.create_customer(actor=admin_user, data={"name": "李四", "city": "北京"})
    page = admin_client.get("/customers/", {"city": "上海"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "张三" in html
    assert "李四" not in html
    assert "<html" in html
    partial = admin_client.get("/customers/", {"city": "北京"}, headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert "李四" in body
    assert "<html" not in body


def test_bulk_tag_and_saved_views(admin_client: Client, zhang: Customer) -> None:
    response = admin_client.post("/customers/bulk/", {"ids": [zhang.pk], "action": "tag", "tag": "重点"})
    assert response.status_code == 302
    assert list(zhang.tags.values_list("name", flat=True)) == ["重点"]
    admin_client.post("/customers/views/save/", {"name": "上海客户", "query": "city=上海"})
    listing = admin_client.get("/customers/").content.decode()
    assert "上海客户" in listing


def test_search_typeahead_and_full_page(admin_client: Client, zhang: Customer) -> None:
    suggestions = admin_client.get("/customers/search/", {"q": "张"}, headers={"HX-Request": "true"}).content.decode()
    assert "张三" in suggestions
    assert "<html" not in suggestions
    page = admin_client.get("/customers/search/", {"q": "13800138000"}).content.decode()
    assert "张三" in page


def test_360_page_shows_profile_orders_timeline(admin_client: Client, zhang: Customer) -> None:
    html = admin_client.get(f"/customers/{zhang.pk}/").content.decode()
    assert "+8613800138000" in html
    assert "龙井" in html
    assert "customer.created" not in html  # rendered as a sentence, not the raw key
    assert admin_client.get("/customers/999999/").status_code == 404


def test_360_in_english(admin_client: Client, zhang: Customer) -> None:
    admin_client.cookies["django_language"] = "en"
    html = admin_client.get(f"/customers/{zhang.pk}/", headers={"Accept-Language": "en"}).content.decode()
    assert "Timeline" in html


def test_create_form_shows_inline_errors_and_writes_nothing(admin_client: Client) -> None:
    response = admin_client.post("/customers/new/", {"name": "王五", "email": "bad", "phone": "1", "kind": "person"})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'class="field-error"' in html
    assert 'value="王五"' in html
    assert Customer.objects.count() == 0
    ok = admin_client.post(
        "/customers/new/", {"name": "王五", "phone": "13900139000", "kind": "person", "lifecycle_stage": "lead"}
    )
    assert ok.status_code == 302
    assert Customer.objects.get().lifecycle_stage == "lead"


def test_inline_validation_endpoint(admin_client: Client) -> None:
    bad = admin_client.post("/customers/validate/", {"_field": "email", "email": "nope"}).content.decode()
    assert "field-error" in bad
    good = admin_client.post("/customers/validate/", {"_field": "email", "email": "a@example.com"}).content.decode()
    assert good.strip() == ""


def test_need_and_order_forms(admin_client: Client, zhang: Customer, admin_user: Any) -> None:
    services.save_need_type(actor=admin_user, data={"code": "inquiry", "name": "咨询"})
    response = admin_client.post(
        f"/customers/{zhang.pk}/needs/new/",
        {"need_type": "inquiry", "title": "报价", "level": "high", "status": "open"},
    )
    assert response.status_code == 302
    assert Need.objects.get().level == "high"
    future = (timezone.localtime() + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    bad = admin_client.post(
        f"/customers/{zhang.pk}/orders/new/",
        {
            "ordered_at": future,
            "currency": "CNY",
            "channel": "online",
            "lines-1-name": "x",
            "lines-1-quantity": "-2",
            "lines-1-unit_price": "3",
        },
    )
    assert bad.status_code == 422
    assert Order.objects.count() == 1
    good = admin_client.post(
        f"/customers/{zhang.pk}/orders/new/",
        {
            "ordered_at": "2025-05-01T10:00",
            "currency": "CNY",
            "channel": "store",
            "lines-0-name": "茶",
            "lines-0-quantity": "2",
            "lines-0-unit_price": "30",
        },
    )
    assert good.status_code == 302
    assert Order.objects.count() == 2


def test_admin_pages(admin_client: Client) -> None:
    assert admin_client.post("/customers/need-types/", {"code": "after-sales", "name": "售后"}).status_code == 302
    assert "售后" in admin_client.get("/customers/need-types/").content.decode()
    created = admin_client.post(
        "/customers/custom-fields/",
        {
            "object_type": "customers.customer",
            "key": "plan",
            "label": "套餐",
            "field_type": "choice",
            "choices": "金, 银",
        },
    )
    assert created.status_code == 302
    assert "套餐" in admin_client.get("/customers/new/").content.decode()
    assert (
        admin_client.post(
            "/customers/products/", {"sku": "T1", "name": "绿茶", "list_price": "-1", "currency": "CNY"}
        ).status_code
        == 422
    )
    assert (
        admin_client.post(
            "/customers/products/", {"sku": "T1", "name": "绿茶", "list_price": "12.5", "currency": "CNY"}
        ).status_code
        == 302
    )
    assert "绿茶" in admin_client.get("/customers/products/").content.decode()


def test_pages_need_login_and_hide_others_customers(zhang: Customer) -> None:
    from crm.testing.factories import make_user

    assert Client().get("/customers/").status_code == 302
    other = Client()
    other.force_login(make_user())
    assert other.get(f"/customers/{zhang.pk}/").status_code == 404
    assert "张三" not in other.get("/customers/").content.decode()


def test_timeline_page_pages_back(admin_client: Client, zhang: Customer, admin_user: Any) -> None:
    for i in range(60):
        services.add_note(zhang, actor=admin_user, text=f"备注{i}")
    first = admin_client.get(f"/customers/{zhang.pk}/timeline/")
    html = first.content.decode()
    assert "备注59 <span" in html
    assert "备注5 <span" not in html
    older = first.context["next_url"]
    assert "备注5 <span" in admin_client.get(f"/customers/{zhang.pk}/timeline/{older}").content.decode()


def test_order_page_refund_and_cancel(admin_client: Client, zhang: Customer) -> None:
    order = Order.objects.get(customer=zhang)
    assert "龙井" in admin_client.get(f"/customers/orders/{order.pk}/").content.decode()
    admin_client.post(f"/customers/orders/{order.pk}/refund/", {"amount": "500"})
    order.refresh_from_db()
    assert order.refunded_amount == 0  # more than the total: refused, nothing written
    admin_client.post(f"/customers/orders/{order.pk}/refund/", {"amount": "30", "reason": "破损"})
    order.refresh_from_db()
    assert order.status == "partially_refunded"
    admin_client.post(f"/customers/orders/{order.pk}/cancel/", {"version": order.version})
    order.refresh_from_db()
    assert order.status == "partially_refunded"  # an order with refunds cannot be cancelled


def test_bulk_export_selected_redirects_to_the_export(admin_client: Client, zhang: Customer) -> None:
    from crm.customers.views import _export_url

    response = admin_client.post("/customers/bulk/", {"ids": [zhang.pk], "action": "export"})
    expected = _export_url(f"ids={zhang.pk}")
    # then the browser goes to transfer's export with the ids (or back to the list while it is absent)
    assert response["Location"] == (expected or "/customers/?")


def test_need_form_shows_and_validates_need_custom_fields(
    admin_client: Client, zhang: Customer, admin_user: Any
) -> None:
    services.save_need_type(actor=admin_user, data={"code": "quote", "name": "报价"})
    services.save_custom_field(
        actor=admin_user,
        data={
            "object_type": "customers.need",
            "key": "budget",
            "label": "预算",
            "field_type": "number",
            "required": True,
        },
    )
    form = admin_client.get(f"/customers/{zhang.pk}/needs/new/").content.decode()
    assert 'name="custom.budget"' in form
    base = {"need_type": "quote", "title": "报价", "level": "normal", "status": "open"}
    missing = admin_client.post(f"/customers/{zhang.pk}/needs/new/", base)
    assert missing.status_code == 422
    wrong = admin_client.post(f"/customers/{zhang.pk}/needs/new/", {**base, "custom.budget": "很多"})
    assert wrong.status_code == 422
    assert Need.objects.count() == 0
    ok = admin_client.post(f"/customers/{zhang.pk}/needs/new/", {**base, "custom.budget": "5000"})
    assert ok.status_code == 302
    assert Need.objects.get().custom == {"budget": 5000}
    inline = admin_client.post(
        "/customers/validate/", {"_field": "custom.budget", "_object": "need", "custom.budget": "abc"}
    ).content.decode()
    assert "field-error" in inline


def test_360_shows_custom_values_whole(admin_client: Client, zhang: Customer, admin_user: Any) -> None:
    # given a text, a multi-choice and a yes/no value
    for key, kind, choices in (("plan", "text", []), ("likes", "multi_choice", ["茶", "咖啡"]), ("vip", "boolean", [])):
        services.save_custom_field(
            actor=admin_user,
            data={
                "object_type": "customers.customer",
                "key": key,
                "label": key,
                "field_type": kind,
                "choices": choices,
            },
        )
    Customer.objects.filter(pk=zhang.pk).update(custom={"plan": "金卡", "likes": ["茶", "咖啡"], "vip": True})
    # when the 360 page is shown in Chinese
    page = admin_client.get(f"/customers/{zhang.pk}/", headers={"Accept-Language": "zh-hans"}).content.decode()
    # then text is not split into characters, lists are joined, booleans are words
    assert "<dt>plan</dt><dd>金卡</dd>" in page
    assert "<dt>likes</dt><dd>茶, 咖啡</dd>" in page
    assert "<dt>vip</dt><dd>是</dd>" in page


def test_unticking_every_box_of_a_multi_choice_clears_it(
    admin_client: Client, zhang: Customer, admin_user: Any
) -> None:
    # given a need whose multi-choice field has two boxes ticked
    services.save_need_type(actor=admin_user, data={"code": "quote", "name": "报价"})
    services.save_custom_field(
        actor=admin_user,
        data={
            "object_type": "customers.need",
            "key": "topics",
            "label": "主题",
            "field_type": "multi_choice",
            "choices": ["价格", "交期"],
        },
    )
    need = services.create_need(
        zhang, actor=admin_user, data={"need_type": "quote", "title": "报价", "custom": {"topics": ["价格", "交期"]}}
    )
    url = f"/customers/needs/{need.pk}/edit/"
    form = admin_client.get(url).content.decode()
    # the form sends an empty marker with the boxes, so "none ticked" reaches the server
    assert '<input type="hidden" name="custom.topics[]" value="">' in form
    base = {"need_type": "quote", "title": "报价", "level": "normal", "status": "open", "version": need.version}
    response = admin_client.post(url, {**base, "custom.topics[]": ""})
    assert response.status_code == 302
    need.refresh_from_db()
    assert need.custom == {}


def test_360_shows_priority_reasons_as_sentences(admin_client: Client, zhang: Customer) -> None:
    # given a stored score whose reasons are codes with parameters
    from crm.customers.models import CustomerScore

    CustomerScore.objects.update_or_create(
        customer=zhang,
        defaults={
            "priority_score": 80.0,
            "priority_reasons": [{"code": "no_purchase", "params": {"days": 94, "usual_days": 30}, "points": 12.5}],
        },
    )
    # when the 360 page is read in English
    admin_client.cookies["django_language"] = "en"
    html = admin_client.get(f"/customers/{zhang.pk}/", headers={"Accept-Language": "en"}).content.decode()
    # then the reason is a sentence in the reader's language, not the stored code
    assert "94" in html
    assert "no_purchase" not in html
    assert "&#x27;code&#x27;" not in html


def test_editing_an_unknown_configuration_row_is_404_and_creates_nothing(admin_client: Client) -> None:
    # given no need type or custom field with id 999999
    from crm.core.models import CustomFieldDefinition
    from crm.customers.models import NeedType

    before = (NeedType.objects.count(), CustomFieldDefinition.objects.count())
    # when an edit names that id
    need_type = admin_client.post("/customers/need-types/", {"id": "999999", "code": "ghost", "name": "幽灵"})
    custom_field = admin_client.post("/customers/custom-fields/", {"id": "999999", "label": "幽灵"})
    # then both answer 404 and nothing was created in its place
    assert need_type.status_code == 404
    assert custom_field.status_code == 404
    assert (NeedType.objects.count(), CustomFieldDefinition.objects.count()) == before


def test_contact_edit_and_remove_pages(admin_client: Client, zhang: Customer, admin_user: Any) -> None:
    from crm.core.models import AuditEntry
    from crm.customers.models import Contact
    from crm.testing.factories import make_user

    contact = services.create_contact(zhang, actor=admin_user, data={"name": "王经理", "phone": "13900139000"})
    assert f"/customers/contacts/{contact.pk}/edit/" in admin_client.get(f"/customers/{zhang.pk}/").content.decode()
    form = admin_client.get(f"/customers/contacts/{contact.pk}/edit/")
    assert form.status_code == 200
    assert "王经理" in form.content.decode()
    bad = admin_client.post(
        f"/customers/contacts/{contact.pk}/edit/", {"name": "王经理", "email": "不是邮箱", "version": contact.version}
    )
    assert bad.status_code == 422
    contact.refresh_from_db()
    assert contact.email == ""  # nothing written
    stale = admin_client.post(f"/customers/contacts/{contact.pk}/edit/", {"name": "王总", "version": 99})
    assert stale.status_code == 422
    contact.refresh_from_db()
    assert contact.name == "王经理"
    saved = admin_client.post(
        f"/customers/contacts/{contact.pk}/edit/",
        {"name": "王总", "title": "采购总监", "email": "wang@example.com", "version": contact.version},
    )
    assert saved.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.title, contact.email) == ("王总", "采购总监", "wang@example.com")
    assert AuditEntry.objects.filter(object_type="customers.contact", object_id=str(contact.pk), verb="change").exists()
    outsider = Client()
    outsider.force_login(make_user())
    assert outsider.get(f"/customers/contacts/{contact.pk}/edit/").status_code == 404
    assert outsider.post(f"/customers/contacts/{contact.pk}/delete/").status_code == 404
    assert admin_client.post(f"/customers/contacts/{contact.pk}/delete/").status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
