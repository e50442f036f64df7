"""Several .values() reads in one round trip give exactly what reading them one by one gives."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Window
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.core.batched_reads import fetch_values_together
from crm.customers.models import Customer, Order, Tag

pytestmark = pytest.mark.django_db


def test_rows_match_one_by_one_reads_with_converters_and_empty_sets() -> None:
    # given customers with encrypted, JSON, decimal and date columns, and orders
    first = Customer.objects.create(name="甲", email="a@example.com", custom={"plan": "gold"})
    Customer.objects.create(name="乙", phone="+8613800138000")
    first.tags.add(Tag.objects.create(name="VIP"))
    Order.objects.create(customer=first, number="N1", ordered_at=timezone.now(), total_amount=Decimal("9.90"))

    def querysets() -> list[Any]:
        return [
            Customer.objects.order_by("id").values("id", "name", "email", "phone", "custom", "created_at"),
            Customer.objects.none().values("id"),
            Customer.tags.through.objects.values("customer_id", "tag__name"),
            Order.objects.annotate(n=Window(Count("id"))).values("number", "total_amount", "n")[:5],
            Customer.objects.filter(name="nobody").values("id"),
        ]

    expected = [list(qs) for qs in querysets()]
    # when they are read together
    with CaptureQueriesContext(connection) as queries:
        found = fetch_values_together(*querysets())
    # then the rows are the same (decrypted, decoded), in one round trip on PostgreSQL
    assert found == expected
    assert found[0][0]["email"] == "a@example.com"
    assert found[1] == []
    assert found[3][0]["total_amount"] == Decimal("9.90")
    assert len(queries) == (1 if connection.vendor == "postgresql" else 4)


def test_refuses_model_querysets() -> None:
    with pytest.raises(TypeError):
        fetch_values_together(Customer.objects.all(), Customer.objects.values("id"))
