"""How the permission matrix reaches the customers models over HTTP (see crm/testing/matrix.py).

Each factory makes a record "owned" by the given user: a customer they own, or a record of such
a customer. Catalogue models (products, need types, tags) belong to no one. Models without an
endpoint yet are checked at the access layer only (no probes).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.customers import models as m
from crm.testing import matrix

_n = itertools.count(1)


def make_customer(owner: Any) -> m.Customer:
    return m.Customer.objects.create(name=f"矩阵客户{next(_n)}", owner=owner)


def make_contact(owner: Any) -> m.Contact:
    return m.Contact.objects.create(customer=make_customer(owner), name=f"联系人{next(_n)}")


def make_channel(owner: Any) -> m.CustomerChannel:
    return m.CustomerChannel.objects.create(customer=make_customer(owner), kind="wechat", value=f"wx{next(_n)}")


def make_need_type(owner: Any) -> m.NeedType:
    n = next(_n)
    return m.NeedType.objects.create(code=f"matrix-{n}", name=f"需求类型{n}")


def make_need(owner: Any) -> m.Need:
    return m.Need.objects.create(customer=make_customer(owner), need_type=make_need_type(owner), title="想要报价")


def make_order(owner: Any) -> m.Order:
    return m.Order.objects.create(
        customer=make_customer(owner),
        number=f"MX-{next(_n)}",
        ordered_at=timezone.now(),
        total_amount=Decimal("100.00"),
    )


def make_order_line(owner: Any) -> m.OrderLine:
    one = Decimal("1")
    return m.OrderLine.objects.create(
        order=make_order(owner), name="商品", quantity=one, unit_price=Decimal("100"), amount=Decimal("100")
    )


def make_refund(owner: Any) -> m.Refund:
    return m.Refund.objects.create(order=make_order(owner), amount=Decimal("10.00"))


def make_score(owner: Any) -> m.CustomerScore:
    return m.CustomerScore.objects.create(customer=make_customer(owner))


def make_product(owner: Any) -> m.Product:
    n = next(_n)
    return m.Product.objects.create(sku=f"MX-SKU-{n}", name=f"产品{n}", list_price=Decimal("9.90"))


def make_tag(owner: Any) -> m.Tag:
    return m.Tag.objects.create(name=f"标签{next(_n)}")


def make_segment(owner: Any) -> m.Segment:
    return m.Segment.objects.create(name=f"分群{next(_n)}", owner=owner)


def make_saved_view(owner: Any) -> m.SavedView:
    return m.SavedView.objects.create(user=owner, name=f"视图{next(_n)}")


def make_import_job(owner: Any) -> m.ImportJob:
    return m.ImportJob.objects.create(
        kind="customers", file_name="a.csv", file_path="imports/matrix.csv", created_by=owner
    )


def make_export_job(owner: Any) -> m.ExportJob:
    return m.ExportJob.objects.create(kind="customers", created_by=owner)


def make_duplicate(owner: Any) -> m.DuplicateCandidate:
    return m.DuplicateCandidate.objects.create(
        customer_a=make_customer(owner), customer_b=make_customer(owner), score=0.9
    )


def _versioned(**fields: Any) -> Any:
    return lambda obj: {**fields, "version": obj.version}


def _own_customer_payload(**fields: Any) -> Any:
    return lambda owner: {"customer_id": make_customer(owner).pk, **fields}


matrix.register(
    matrix.Reach(
        "customers.customer",
        make=make_customer,
        probes={
            "view": [
                matrix.api_detail("/api/v1/customers/{pk}"),
                matrix.api_list("/api/v1/customers?q={obj.name}"),
            ],
            "change": [matrix.api_patch("/api/v1/customers/{pk}", _versioned(city="杭州"))],
            "delete": [matrix.api_delete("/api/v1/customers/{pk}")],
            "create": [matrix.api_create("/api/v1/customers", lambda owner: {"name": "新客户"})],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.contact",
        make=make_contact,
        probes={
            "view": [
                matrix.api_detail("/api/v1/contacts/{pk}"),
                matrix.api_list("/api/v1/contacts?customer_id={obj.customer_id}"),
            ],
            "change": [matrix.api_patch("/api/v1/contacts/{pk}", _versioned(title="经理"))],
            "delete": [matrix.api_delete("/api/v1/contacts/{pk}")],
            "create": [matrix.api_create("/api/v1/contacts", _own_customer_payload(name="新联系人"))],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.need",
        make=make_need,
        probes={
            "view": [
                matrix.api_detail("/api/v1/needs/{pk}"),
                matrix.api_list("/api/v1/needs?customer_id={obj.customer_id}"),
            ],
            "change": [matrix.api_patch("/api/v1/needs/{pk}", _versioned(level="high"))],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.order",
        make=make_order,
        probes={
            "view": [
                matrix.api_detail("/api/v1/orders/{pk}"),
                matrix.api_list("/api/v1/orders?customer_id={obj.customer_id}"),
            ],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.product",
        make=make_product,
        probes={
            "view": [matrix.api_detail("/api/v1/products/{pk}")],
            "change": [matrix.api_patch("/api/v1/products/{pk}", _versioned(category="矩阵"))],
        },
    )
)
for object_type, factory in (
    ("customers.customerchannel", make_channel),
    ("customers.needtype", make_need_type),
    ("customers.orderline", make_order_line),
    ("customers.refund", make_refund),
    ("customers.customerscore", make_score),
    ("customers.tag", make_tag),
    ("customers.segment", make_segment),
    ("customers.savedview", make_saved_view),
    ("customers.importjob", make_import_job),
    ("customers.exportjob", make_export_job),
    ("customers.duplicatecandidate", make_duplicate),
):
    matrix.register(matrix.Reach(object_type, make=factory))
