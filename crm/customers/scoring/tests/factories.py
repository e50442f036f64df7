"""Small factories for scoring tests: customers with orders and needs, created exactly as asked."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

from crm.customers.choices import NeedLevel, NeedStatus, OrderStatus
from crm.customers.models import Customer, Need, NeedType, Order

_numbers = itertools.count(1)


def make_customer(*, name: str = "客户", owner: Any = None, **fields: Any) -> Customer:
    return Customer.objects.create(name=name, owner=owner, **fields)


def make_order(
    *,
    customer: Customer,
    at: datetime,
    total: str | Decimal = "100.00",
    refunded: str | Decimal = "0",
    status: str = OrderStatus.PAID,
) -> Order:
    return Order.objects.create(
        customer=customer,
        number=f"T{next(_numbers):08d}",
        ordered_at=at,
        total_amount=Decimal(total),
        refunded_amount=Decimal(refunded),
        status=status,
    )


def make_need(
    *, customer: Customer, level: str = NeedLevel.URGENT, status: str = NeedStatus.OPEN, title: str = "需求"
) -> Need:
    need_type, _ = NeedType.objects.get_or_create(code="inquiry", defaults={"name": "咨询", "name_en": "Inquiry"})
    return Need.objects.create(customer=customer, need_type=need_type, level=level, status=status, title=title)


def make_role_user(*, username: str, grants: dict[str, dict[str, int]], **fields: Any) -> Any:
    """A user whose own role grants exactly `grants` ({object_type: {verb: scope}})."""
    from crm.identity.models import Role, RolePermission
    from crm.testing.factories import make_user

    role = Role.objects.create(name=f"role of {username}", code=f"r-{username}")
    for object_type, verbs in grants.items():
        for verb, scope in verbs.items():
            RolePermission.objects.create(role=role, object_type=object_type, verb=verb, scope=int(scope))
    return make_user(username=username, role=role, **fields)
