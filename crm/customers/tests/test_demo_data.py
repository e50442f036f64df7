"""Demo data: deterministic, valid phones and e-mails, blind indexes that match the real ones, searchable."""

from __future__ import annotations

import io
from typing import Any

import phonenumbers
import pytest

from crm.core.crypto import blind_index
from crm.customers.demo_data import MOBILE_PREFIXES, _bidx, create_customers
from crm.customers.models import Customer, Order, OrderLine
from crm.customers.search import search_customers
from crm.demo.registry import DemoContext

pytestmark = pytest.mark.django_db


def run(n: int, seed: int = 7) -> None:
    create_customers(DemoContext(customers=n, seed=seed, progress=False, state={}, stdout=io.StringIO()))


def test_demo_customers_are_valid_encrypted_and_searchable(admin_user: Any) -> None:
    run(300)
    assert Customer.objects.count() == 300
    assert Order.objects.count() > 300
    assert OrderLine.objects.count() >= Order.objects.count()
    sample = list(Customer.objects.exclude(phone="")[:50])
    for customer in sample:
        assert phonenumbers.is_valid_number(phonenumbers.parse(customer.phone))
        assert customer.phone_bidx == blind_index("phone", customer.phone)
        assert customer.email_bidx == blind_index("email", customer.email)
    someone = sample[0]
    assert someone in search_customers(admin_user, someone.name[:2])
    assert someone in search_customers(admin_user, someone.phone)
    repeaters = Order.objects.values("customer_id").distinct().count()
    assert Order.objects.count() / repeaters > 2  # repeat purchases, not one order each


def test_demo_data_is_deterministic() -> None:
    # given one run with a seed; when everything is removed and the same seed runs again; then same data
    run(50, seed=1)
    first = list(Customer.objects.order_by("id").values_list("name", "city", "lifecycle_stage"))
    first_orders = Order.objects.count()
    Order.objects.all().delete()
    Customer.objects.all().delete()
    run(50, seed=1)
    assert list(Customer.objects.order_by("id").values_list("name", "city", "lifecycle_stage")) == first
    assert Order.objects.count() == first_orders


def test_every_mobile_prefix_is_a_valid_chinese_mobile() -> None:
    for prefix in MOBILE_PREFIXES:
        assert phonenumbers.is_valid_number(phonenumbers.parse(f"+86{prefix}12345678")), prefix
    assert _bidx("phone", "+8613800138000") == blind_index("phone", "13800138000")
