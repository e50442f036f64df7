"""Duplicates: detection (exact and fuzzy), merge keeping every related record and the timeline, dismiss."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from crm.core.crypto import blind_index
from crm.core.models import AuditEntry, TimelineEvent
from crm.core.timeline import record_event
from crm.customers.duplicates import services
from crm.customers.models import (
    Contact,
    Customer,
    CustomerChannel,
    DuplicateCandidate,
    Need,
    NeedType,
    Order,
    Segment,
    SegmentMember,
    Tag,
)
from crm.testing.factories import make_token, make_user

pytestmark = pytest.mark.django_db


def customer(name: str, **fields: Any) -> Customer:
    for kind, key in (("email", "email"), ("phone", "phone"), ("identifier", "id_number")):
        if fields.get(key):
            fields[f"{key}_bidx"] = blind_index(kind, fields[key])
    return Customer.objects.create(name=name, **fields)


def pairs() -> dict[tuple[int, int], list[str]]:
    return {(c.customer_a_id, c.customer_b_id): c.reasons for c in DuplicateCandidate.objects.all()}


def test_exact_matches_on_email_phone_and_id_number() -> None:
    a = customer("Alice", email="alice@example.com")
    b = customer("A. Smith", email="ALICE@example.com")
    c = customer("张三", phone="+8613800138000", id_number="110101199001011234")
    d = customer("张三丰", phone="+8613800138000")
    e = customer("Zhang", id_number="110101 199001011234")
    customer("Nobody", email="other@example.com")
    assert services.detect_duplicates() >= 3
    found = pairs()
    assert found[(a.pk, b.pk)] == ["same_email"]
    assert "same_phone" in found[(c.pk, d.pk)]
    assert found[(c.pk, e.pk)] == ["same_id_number"]
    assert len(found) == 3


def test_fuzzy_match_on_name_and_company_but_not_name_alone() -> None:
    a = customer("王小明", company_name="上海某某贸易有限公司")
    b = customer("王晓明", company_name="上海某某贸易有限公司")
    c = customer("Li Lei", company_name="Acme Trading Co.")
    d = customer("Li Lei", company_name="Acme Trading Company")
    customer("张伟", company_name="甲公司")
    customer("张伟", company_name="乙集团")
    services.detect_duplicates()
    found = pairs()
    assert found[(a.pk, b.pk)] == ["similar_name_same_company"]
    assert found[(c.pk, d.pk)] == ["same_name_similar_company"]
    assert len(found) == 2


def test_detection_is_idempotent_and_respects_dismissal(admin: Any) -> None:
    a = customer("A", email="same@example.com")
    b = customer("B", email="same@example.com")
    services.detect_duplicates()
    services.dismiss_candidate(DuplicateCandidate.objects.get(), actor=admin)
    assert services.detect_duplicates() == 0
    assert DuplicateCandidate.objects.get(customer_a=a, customer_b=b).status == "dismissed"


def test_detection_for_an_id_range_only_pairs_new_customers() -> None:
    old_a = customer("Old", email="x@example.com")
    old_b = customer("Old2", email="x@example.com")
    new = customer("New", phone="+8613900139000")
    new2 = customer("New2", phone="+8613900139000")
    services.detect_duplicates(low=new.pk, high=new2.pk)
    assert set(pairs()) == {(new.pk, new2.pk)}
    assert old_a.pk < old_b.pk


def test_merge_keeps_every_related_record_and_the_whole_timeline(admin: Any) -> None:
    # given two records of one person, each with history
    keep = customer("王小明", email="wxm@example.com", city="上海")
    gone = customer("王晓明", phone="+8613800138000", city="北京", external_id="EXT-9", company_name="某某")
    need_type = NeedType.objects.create(code="inquiry", name="咨询")
    Contact.objects.create(customer=gone, name="助理")
    Need.objects.create(customer=gone, need_type=need_type, title="报价")
    Order.objects.create(
        customer=gone, number="N1", ordered_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), total_amount=Decimal("9.90")
    )
    CustomerChannel.objects.create(customer=gone, kind="wechat", value="wxid_1")
    vip = Tag.objects.create(name="VIP")
    gone.tags.add(vip)
    static = Segment.objects.create(name="活动名单", kind="static")
    both = Segment.objects.create(name="两者", kind="static")
    SegmentMember.objects.create(segment=static, customer=gone)
    SegmentMember.objects.create(segment=both, customer=gone)
    SegmentMember.objects.create(segment=both, customer=keep)
    record_event(customer_id=gone.pk, kind="note.added", actor=admin, subject="note", payload={})
    record_event(customer_id=keep.pk, kind="note.added", actor=admin, subject="note", payload={})
    services.detect_duplicates()
    candidate = DuplicateCandidate.objects.create(customer_a=keep, customer_b=gone, reasons=["x"], score=0.9)
    # when they are merged, taking the city from the other record
    services.merge_customers(keep.pk, gone.pk, actor=admin, take_from_loser=["city"], candidate=candidate)
    # then everything belongs to the kept customer
    keep.refresh_from_db()
    gone.refresh_from_db()
    assert (keep.city, keep.phone, keep.email, keep.external_id, keep.company_name) == (
        "北京",
        "+8613800138000",
        "wxm@example.com",
        "EXT-9",
        "某某",
    )
    assert keep.phone_bidx == blind_index("phone", "+8613800138000")
    assert keep.contacts.count() == 1
    assert keep.needs.count() == 1
    assert keep.orders.count() == 1
    assert keep.channels.count() == 1
    assert list(keep.tags.all()) == [vip]
    assert set(SegmentMember.objects.filter(customer=keep).values_list("segment__name", flat=True)) == {
        "活动名单",
        "两者",
    }
    assert not SegmentMember.objects.filter(customer=gone).exists()
    kinds = list(TimelineEvent.objects.filter(customer_id=keep.pk).values_list("kind", flat=True))
    assert kinds.count("note.added") == 2
    assert "customer.merged" in kinds
    assert not TimelineEvent.objects.filter(customer_id=gone.pk).exists()
    # and the other record stays, inactive, pointing at the kept one
    assert (gone.is_active, gone.merged_into_id, gone.external_id) == (False, keep.pk, None)
    candidate.refresh_from_db()
    assert candidate.status == "merged"
    audit = AuditEntry.objects.get(verb="merge")
    assert audit.extra["merged_customer_id"] == gone.pk
    assert audit.changes["phone"]["after"] != "+8613800138000"  # personal data masked in the audit


def test_merge_refuses_already_merged_and_self(admin: Any) -> None:
    a, b, c = customer("a"), customer("b"), customer("c")
    services.merge_customers(a.pk, b.pk, actor=admin)
    from crm.core.errors import Conflict, NotFound, ValidationFailed

    # a merged customer is no longer visible to anyone: missing and forbidden look the same
    with pytest.raises((Conflict, NotFound)):
        services.merge_customers(c.pk, b.pk, actor=admin)
    with pytest.raises(ValidationFailed):
        services.merge_customers(c.pk, c.pk, actor=admin)


def test_merge_of_customers_the_actor_cannot_change_is_not_found(admin: Any) -> None:
    from crm.core.errors import NotFound

    a, b = customer("a"), customer("b")
    with pytest.raises(NotFound):
        services.merge_customers(a.pk, b.pk, actor=make_user(username="nobody"))
    assert Customer.objects.filter(is_active=True).count() == 2


def test_api_list_merge_dismiss(admin: Any, django_assert_max_num_queries: Any) -> None:
    api = Client(headers={"Authorization": f"Bearer {make_token(admin)}", "Accept-Language": "en"})
    for i in range(4):
        customer(f"p{i}", email=f"dup{i}@example.com")
        customer(f"q{i}", email=f"dup{i}@example.com")
    services.detect_duplicates()
    with django_assert_max_num_queries(6):
        one = api.get("/api/v1/duplicates?limit=1").json()
    with django_assert_max_num_queries(6):
        listed = api.get("/api/v1/duplicates?limit=50").json()
    assert len(one["items"]) == 1
    assert len(listed["items"]) == 4
    assert listed["items"][0]["reason_labels"] == ["same e-mail"]
    first, second = listed["items"][0], listed["items"][1]
    merged = api.post(f"/api/v1/duplicates/{first['id']}/merge", {"keep": "b"}, content_type="application/json")
    assert merged.status_code == 200, merged.content
    assert Customer.objects.get(pk=first["customer_a"]["id"]).merged_into_id == first["customer_b"]["id"]
    again = api.post(f"/api/v1/duplicates/{first['id']}/merge", {}, content_type="application/json")
    assert again.status_code in (404, 409)
    dismissed = api.post(f"/api/v1/duplicates/{second['id']}/dismiss")
    assert dismissed.json()["status"] == "dismissed"
    bad = api.post(
        f"/api/v1/duplicates/{listed['items'][2]['id']}/merge",
        {"take_from_loser": ["password"]},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert len(api.get("/api/v1/duplicates").json()["items"]) == 2


def test_queue_and_compare_pages(admin_session: Client) -> None:
    a = customer("Ann", email="ann@example.com", city="A")
    b = customer("Anne", email="ann@example.com", city="B")
    services.detect_duplicates()
    candidate = DuplicateCandidate.objects.get()
    queue = admin_session.get("/customers/duplicates/")
    assert queue.status_code == 200
    assert "Anne" in queue.content.decode()
    page = admin_session.get(f"/customers/duplicates/{candidate.pk}/")
    assert page.status_code == 200
    assert 'name="field_city"' in page.content.decode()
    response = admin_session.post(f"/customers/duplicates/{candidate.pk}/merge/", {"keep": "a", "field_city": "b"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.city == "B"
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk


def test_a_merged_customer_points_to_the_survivor(admin: Any, admin_session: Client) -> None:
    # given b merged into a, and later a merged into c
    a, b, c = customer("王小明"), customer("王小明"), customer("王小明")
    services.merge_customers(a.pk, b.pk, actor=admin)
    services.merge_customers(c.pk, a.pk, actor=admin)
    api = Client(headers={"Authorization": f"Bearer {make_token(admin)}"})
    # when an old link to b is followed, on the page or in the API
    page = admin_session.get(f"/customers/{b.pk}/")
    answer = api.get(f"/api/v1/customers/{b.pk}")
    # then it leads to the customer that holds everything now
    assert (page.status_code, page["Location"]) == (302, f"/customers/{c.pk}/")
    assert (answer.status_code, answer["Location"]) == (301, f"/api/v1/customers/{c.pk}")
    assert api.get(answer["Location"]).json()["id"] == c.pk


def test_a_merged_customer_is_not_found_by_who_cannot_see_the_survivor(admin: Any) -> None:
    a, b = customer("a"), customer("b")
    services.merge_customers(a.pk, b.pk, actor=admin)
    nobody = make_user(username="nobody")
    session = Client()
    session.force_login(nobody)
    api = Client(headers={"Authorization": f"Bearer {make_token(nobody)}"})
    assert session.get(f"/customers/{b.pk}/").status_code == 404
    assert api.get(f"/api/v1/customers/{b.pk}").status_code == 404
    assert api.get("/api/v1/customers/999999").status_code == 404
