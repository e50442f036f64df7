"""Search: Chinese substrings of 1, 2 and 3+ characters, company, exact e-mail/phone, order, scopes, sync."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from crm.core.crypto import blind_index
from crm.customers import services
from crm.customers.models import Customer
from crm.customers.search import rebuild_search_index, search_customers
from crm.customers.selectors import list_customers

pytestmark = pytest.mark.django_db


def make(name: str, company: str = "", email: str = "", phone: str = "") -> Customer:
    return Customer.objects.create(
        name=name,
        company_name=company,
        email=email,
        email_bidx=blind_index("email", email),
        phone=phone,
        phone_bidx=blind_index("phone", phone),
    )


@pytest.fixture
def people(db: Any) -> None:
    make("张三", "上海茶叶有限公司", email="zhang@example.com", phone="+8613800138000")
    make("张三丰", "武当")
    make("李四", "北京科技")
    make("Ann Lee", "Acme Trading")
    make("50%_off", "")


def found(admin_user: Any, q: str) -> set[str]:
    return {c.name for c in search_customers(admin_user, q)}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("张", {"张三", "张三丰"}),
        ("张三", {"张三", "张三丰"}),
        ("三丰", {"张三丰"}),
        ("张三丰", {"张三丰"}),
        ("茶叶", {"张三"}),
        ("上海茶叶", {"张三"}),
        ("ann", {"Ann Lee"}),
        ("ACME", {"Ann Lee"}),
        ("lee acme", {"Ann Lee"}),
        ("Ac ac aC", {"Ann Lee"}),  # one piece, whatever the case
        ("ACME acme", {"Ann Lee"}),
        ("zhang@EXAMPLE.com", {"张三"}),
        ("138 0013 8000", {"张三"}),
        ("+86 13800138000", {"张三"}),
        ("%", {"50%_off"}),
        ("王", set()),
        ("", set()),
    ],
)
def test_search_finds_substrings_and_exact_channels(
    people: None, admin_user: Any, query: str, expected: set[str]
) -> None:
    assert found(admin_user, query) == expected


def test_index_follows_renames_and_deletes(people: None, admin_user: Any) -> None:
    # given a renamed and a deleted customer; then search sees the new state at once
    Customer.objects.filter(name="李四").update(name="王五六")
    Customer.objects.filter(name="Ann Lee").delete()
    assert found(admin_user, "王五六") == {"王五六"}
    assert found(admin_user, "李四") == set()
    assert found(admin_user, "Acme") == set()
    rebuild_search_index()
    assert found(admin_user, "王五六") == {"王五六"}


def test_search_honours_access(people: None) -> None:
    from crm.testing.factories import make_user

    nobody = make_user()
    assert search_customers(nobody, "张") == []


# --- order, paging, scopes and keeping the structure in sync (SQLite and PostgreSQL) -----------------

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(customer: Customer, minutes: int) -> Customer:
    Customer.objects.filter(pk=customer.pk).update(updated_at=T0 + dt.timedelta(minutes=minutes))
    customer.refresh_from_db()
    return customer


def names(customers: list[Customer]) -> list[str]:
    return [c.name for c in customers]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("张", ["张伟", "张伟明", "李张", "张三"]),  # 1 character
        ("张伟", ["张伟", "张伟明"]),  # 2 characters: exactly one piece
        ("伟明", ["张伟明"]),
        ("张伟明", ["张伟明"]),  # 3 characters: the pieces, adjacent
        ("伟张", []),  # both characters present, never adjacent
        ("明 上海", ["张伟明"]),  # several terms, one of them 1 character
        ("伟 张", ["张伟", "张伟明"]),
        ("上海 张伟", ["张伟明"]),
        ("茶叶", ["李张"]),  # company substring
        ("上海茶", []),
    ],
)
def test_chinese_terms_match_newest_first(admin_user: Any, query: str, expected: list[str]) -> None:
    # given customers changed at known times (newest: 张伟)
    at(make("张三"), 1)
    at(make("李张", "杭州茶叶"), 2)
    at(make("张伟明", "上海科技"), 3)
    at(make("张伟"), 4)
    # then every search answers newest change first
    assert names(search_customers(admin_user, query)) == expected


def test_a_change_moves_the_customer_to_the_top(admin_user: Any) -> None:
    # given three 王芳 in the order of their last change
    first, second, third = (at(make("王芳"), minute) for minute in (1, 2, 3))
    assert names(search_customers(admin_user, "王芳")) == ["王芳"] * 3
    assert [c.pk for c in search_customers(admin_user, "王芳")] == [third.pk, second.pk, first.pk]
    # when the oldest is changed through the service
    services.update_customer(first, actor=admin_user, data={"city": "上海"}, expected_version=None)
    # then it comes first, by search and by the list's search
    assert [c.pk for c in search_customers(admin_user, "王芳")] == [first.pk, third.pk, second.pk]
    qs, ordering = list_customers(admin_user, query="王芳")
    assert [c.pk for c in qs.order_by(*ordering)] == [first.pk, third.pk, second.pk]


def test_list_search_pages_through_every_match_once(api_client: Client) -> None:
    # given 7 customers named 陈静 (one renamed away) and others around them
    matching = {at(make("陈静", f"公司{i}"), i).pk for i in range(7)}
    at(make("陈晨"), 50)
    renamed = at(make("陈静"), 60)
    Customer.objects.filter(pk=renamed.pk).update(name="程静")
    # when the list is read 3 at a time with the search
    seen: list[int] = []
    cursor = None
    while True:
        params = {"q": "陈静", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api_client.get("/api/v1/customers", params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # then each match came once, newest first
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == matching
    assert seen == sorted(seen, key=lambda pk: Customer.objects.get(pk=pk).updated_at, reverse=True)


def test_scoped_users_find_only_what_they_may_see(admin_user: Any) -> None:
    from crm.identity.models import Department, Role, RolePermission, Team
    from crm.testing.factories import make_user

    # given a role that sees its own customers and one that sees its team's
    sales = Department.objects.create(name="Sales", code="sales-s")
    north, south = (Team.objects.create(department=sales, name=n) for n in ("North", "South"))
    own_role = Role.objects.create(code="own-viewer", name="Own")
    team_role = Role.objects.create(code="team-viewer", name="Team")
    RolePermission.objects.create(role=own_role, object_type="customers.customer", verb="view", scope=1)
    RolePermission.objects.create(role=team_role, object_type="customers.customer", verb="view", scope=2)
    alice = make_user(role=own_role, team=north)
    bob = make_user(role=own_role, team=north)
    carol = make_user(role=team_role, team=north)
    dave = make_user(role=own_role, team=south)
    for owner, minute in ((alice, 1), (bob, 2), (dave, 3), (alice, 4), (None, 5)):
        customer = at(make("刘洋"), minute)
        Customer.objects.filter(pk=customer.pk).update(owner=owner)

    def owners(user: Any, query: str) -> list[str | None]:
        return [c.owner.username if c.owner else None for c in search_customers(user, query)]

    # then each finds exactly the rows their scope allows, still newest first
    assert owners(alice, "刘洋") == [alice.username, alice.username]
    assert owners(bob, "刘") == [bob.username]
    assert owners(carol, "刘洋") == [alice.username, bob.username, alice.username]
    assert owners(dave, "刘洋 刘") == [dave.username]
    assert len(search_customers(admin_user, "刘洋")) == 5


def test_merged_and_deactivated_customers_leave_the_search(admin_user: Any) -> None:
    from crm.customers.duplicates import services as duplicates

    # given two records of the same person
    keep = make("赵磊", "北京贸易")
    gone = make("赵磊", "北京贸易有限公司")
    # when they are merged
    duplicates.merge_customers(keep.pk, gone.pk, actor=admin_user)
    # then only the winner is found, by name and by company
    assert [c.pk for c in search_customers(admin_user, "赵磊")] == [keep.pk]
    assert [c.pk for c in search_customers(admin_user, "有限公司")] == []
    # and a reactivated record comes back
    Customer.objects.filter(pk=gone.pk).update(is_active=True)
    assert {c.pk for c in search_customers(admin_user, "赵磊")} == {keep.pk, gone.pk}


# --- PostgreSQL: the term table mirrors the customers after every kind of write ---------------------


def expected_terms() -> set[tuple[str, dt.datetime, int]]:
    terms = set()
    for customer in Customer.objects.filter(is_active=True):
        text = f"{customer.name} {customer.company_name}".lower()
        for i in range(len(text) - 1):
            if " " not in text[i : i + 2]:
                terms.add((text[i : i + 2], customer.updated_at, customer.pk))
    return terms


def stored_terms() -> set[tuple[str, dt.datetime, int]]:
    from crm.customers.models import CustomerSearchTerm

    rows = list(CustomerSearchTerm.objects.values_list("bigram", "updated_at", "customer_id"))
    assert len(rows) == len(set(rows))
    return set(rows)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the term table exists on PostgreSQL only")
def test_term_table_follows_every_write_path(admin_user: Any) -> None:
    # services
    created = services.create_customer(actor=admin_user, data={"name": "孙丽", "company_name": "Acme 茶叶"})
    services.update_customer(created, actor=admin_user, data={"name": "孙丽丽"}, expected_version=None)
    assert stored_terms() == expected_terms()
    # ORM bulk writes and queryset updates
    Customer.objects.bulk_create([Customer(name=f"周{i}", company_name="banana 巴巴") for i in range(3)])
    Customer.objects.filter(name__startswith="周").update(company_name="周周公司")
    Customer.objects.filter(name="周1").update(updated_at=T0)
    Customer.objects.filter(name="周2").update(is_active=False)
    assert stored_terms() == expected_terms()
    # raw multi-row SQL (what COPY-based imports do) and deletes
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO customers_customer (kind, name, gender, company_name, industry, source, region, city, "
            "country, lifecycle_stage, email, email_bidx, phone, phone_bidx, address, id_number, id_number_bidx, "
            "email_opt_in, sms_opt_in, phone_opt_in, custom, is_active, version, created_at, updated_at) "
            "SELECT 'person', n, '', '', '', '', '', '', 'CN', 'lead', '', '', '', '', '', '', '', false, false, "
            "false, '{}', true, 1, now(), now() FROM unnest(ARRAY['吴敏', 'Wu Min', '']) AS n"
        )
    Customer.objects.filter(name="周0").delete()
    assert stored_terms() == expected_terms()
    # bulk loads with the replication role set (the demo generator) still fire the triggers
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("UPDATE customers_customer SET name = name || '甲' WHERE name LIKE '吴%%'")
            cursor.execute("SET LOCAL session_replication_role = origin")
    assert stored_terms() == expected_terms()
    assert [c.name for c in search_customers(admin_user, "敏甲")] == ["吴敏甲"]
    # and a rebuild gives the same rows
    rebuild_search_index()
    assert stored_terms() == expected_terms()


@pytest.mark.parametrize("size", [3, 25])
def test_search_api_reads_a_fixed_number_of_queries(
    api_client: Client, admin_user: Any, size: int, django_assert_max_num_queries: Any
) -> None:
    from crm.testing.factories import make_user

    # given matches owned by different people
    for i in range(size):
        customer = make("黄磊", f"公司{i}")
        Customer.objects.filter(pk=customer.pk).update(owner=make_user(display_name=f"销售{i}"))
    api_client.get("/api/v1/search", {"q": "黄磊"})  # the token's last use is recorded once
    # then the results, owners included, come in the same few queries whatever their number
    for query in ("黄磊", "黄磊 公司"):
        with django_assert_max_num_queries(4):
            items = api_client.get("/api/v1/search", {"q": query, "limit": 50}).json()["items"]
        assert len(items) == size
        assert {item["owner"] for item in items} == {f"销售{i}" for i in range(size)}
