"""Search: Chinese substrings of 1, 2 and 3+ characters, company, exact e-mail/phone, access scope."""

from __future__ import annotations

from typing import Any

import pytest

from crm.core.crypto import blind_index
from crm.customers.models import Customer
from crm.customers.search import rebuild_search_index, search_customers

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
