"""How the permission matrix reaches the customers models over HTTP (see crm/testing/matrix.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

from django.test import Client
from django.utils import timezone

from crm.core.models import CustomFieldDefinition
from crm.customers import models as m
from crm.testing import matrix

_n = itertools.count(1)


def customer(owner: Any) -> m.Customer:
    return m.Customer.objects.create(name=f"矩阵客户{next(_n)}", owner=owner)


def contact(owner: Any) -> m.Contact:
    return m.Contact.objects.create(customer=customer(owner), name="联系人")


def channel(owner: Any) -> m.CustomerChannel:
    return m.CustomerChannel.objects.create(customer=customer(owner), kind="wechat", value="wx-id")


def need_type() -> m.NeedType:
    return m.NeedType.objects.get_or_create(code="matrix", defaults={"name": "咨询"})[0]


def need(owner: Any) -> m.Need:
    return m.Need.objects.create(customer=customer(owner), need_type=need_type(), title="报价")


def order(owner: Any) -> m.Order:
    made = m.Order.objects.create(
        customer=customer(owner),
        number=f"M{next(_n)}",
        ordered_at=timezone.now() - dt.timedelta(days=1),
        total_amount=Decimal("10.00"),
    )
    m.OrderLine.objects.create(order=made, name="茶", quantity=1, unit_price=Decimal("10"), amount=Decimal("10"))
    return made


def order_line(owner: Any) -> m.OrderLine:
    return order(owner).lines.get()


def refund(owner: Any) -> m.Refund:
    return m.Refund.objects.create(order=order(owner), amount=Decimal("1.00"))


def score(owner: Any) -> m.CustomerScore:
    return m.CustomerScore.objects.create(customer=customer(owner))


def product(owner: Any) -> m.Product:
    return m.Product.objects.create(sku=f"MX-{next(_n)}", name="样品", list_price=Decimal("9.90"))


def a_need_type(owner: Any) -> m.NeedType:
    return m.NeedType.objects.create(code=f"mt-{next(_n)}", name="类型")


def tag(owner: Any) -> m.Tag:
    return m.Tag.objects.create(name=f"标签{next(_n)}")


def saved_view(owner: Any) -> m.SavedView:
    return m.SavedView.objects.create(user=owner, name=f"视图{next(_n)}", query={})


def custom_field(owner: Any) -> CustomFieldDefinition:
    return CustomFieldDefinition.objects.create(
        object_type="customers.customer", key=f"f{next(_n)}", label="字段", field_type="text"
    )


def _cancel(client: Client, obj: Any) -> bool:
    response = client.post(
        f"/api/v1/orders/{obj.pk}/cancel", json.dumps({"version": obj.version}), content_type="application/json"
    )
    return matrix.outcome(response)


def _yesterday() -> str:
    return (timezone.now() - dt.timedelta(days=1)).isoformat()


matrix.register(
    matrix.Reach(
        "customers.customer",
        make=customer,
        probes={
            "view": [
                matrix.api_detail("/api/v1/customers/{pk}"),
                matrix.api_list("/api/v1/customers?limit=500"),
                matrix.page("/customers/{pk}/"),
            ],
            "change": [
                matrix.api_patch("/api/v1/customers/{pk}", lambda obj: {"city": "杭州", "version": obj.version})
            ],
            "delete": [matrix.api_delete("/api/v1/customers/{pk}")],
            "create": [matrix.api_create("/api/v1/customers", lambda owner: {"name": "新客户"})],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.contact",
        make=contact,
        probes={
            "view": [matrix.api_detail("/api/v1/contacts/{pk}"), matrix.api_list("/api/v1/contacts?limit=500")],
            "change": [
                matrix.api_patch("/api/v1/contacts/{pk}", lambda obj: {"title": "经理", "version": obj.version})
            ],
            "delete": [matrix.api_delete("/api/v1/contacts/{pk}")],
            "create": [
                matrix.api_create(
                    "/api/v1/contacts", lambda owner: {"customer_id": customer(owner).pk, "name": "王经理"}
                )
            ],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.customerchannel",
        make=channel,
        probes={"delete": [matrix.api_delete("/api/v1/customers/{obj.customer_id}/channels/{pk}")]},
    )
)
matrix.register(
    matrix.Reach(
        "customers.need",
        make=need,
        probes={
            "view": [
                matrix.api_detail("/api/v1/needs/{pk}"),
                matrix.api_list("/api/v1/needs?customer_id={obj.customer_id}"),
            ],
            "change": [matrix.api_patch("/api/v1/needs/{pk}", lambda obj: {"level": "high", "version": obj.version})],
            "create": [
                matrix.api_create(
                    "/api/v1/needs",
                    lambda owner: {"customer_id": customer(owner).pk, "need_type": need_type().code, "title": "报价"},
                )
            ],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.order",
        make=order,
        probes={
            "view": [
                matrix.api_detail("/api/v1/orders/{pk}"),
                matrix.api_list("/api/v1/orders?customer_id={obj.customer_id}"),
            ],
            "change": [
                matrix.Probe("POST /api/v1/orders/{pk}/cancel", _cancel),
                matrix.api_patch("/api/v1/orders/{pk}", lambda obj: {"custom": {}, "version": obj.version}),
            ],
            "create": [
                matrix.api_create(
                    "/api/v1/orders",
                    lambda owner: {"customer_id": customer(owner).pk, "ordered_at": _yesterday(), "total_amount": "5"},
                ),
                matrix.api_create(
                    "/api/v1/orders/bulk",
                    lambda owner: {
                        "orders": [{"customer_id": customer(owner).pk, "ordered_at": _yesterday(), "total_amount": "5"}]
                    },
                ),
            ],
        },
    )
)
matrix.register(matrix.Reach("customers.orderline", make=order_line))
matrix.register(matrix.Reach("customers.refund", make=refund))
matrix.register(
    matrix.Reach(
        "customers.product",
        make=product,
        probes={
            "view": [matrix.api_detail("/api/v1/products/{pk}"), matrix.api_list("/api/v1/products?q={obj.sku}")],
            "change": [matrix.api_patch("/api/v1/products/{pk}", lambda obj: {"name": "新名", "version": obj.version})],
            "create": [
                matrix.api_create(
                    "/api/v1/products", lambda owner: {"sku": f"NEW-{next(_n)}", "name": "新品", "list_price": "1"}
                )
            ],
        },
    )
)
matrix.register(
    matrix.Reach(
        "customers.needtype",
        make=a_need_type,
        probes={
            "view": [matrix.api_list("/api/v1/need-types")],
            "change": [matrix.api_patch("/api/v1/need-types/{pk}", lambda obj: {"name": "改名"})],
            "create": [
                matrix.api_create("/api/v1/need-types", lambda owner: {"code": f"n{next(_n)}", "name": "新类型"})
            ],
        },
    )
)
matrix.register(matrix.Reach("customers.tag", make=tag, probes={"view": [matrix.api_list("/api/v1/tags")]}))
matrix.register(
    matrix.Reach(
        "customers.savedview",
        make=saved_view,
        probes={
            "view": [matrix.api_list("/api/v1/saved-views")],
            "delete": [matrix.api_delete("/api/v1/saved-views/{pk}")],
            "create": [matrix.api_create("/api/v1/saved-views", lambda owner: {"name": f"v{next(_n)}", "query": {}})],
        },
    )
)
matrix.register(
    matrix.Reach(
        "core.customfielddefinition",
        make=custom_field,
        probes={
            "view": [matrix.api_list("/api/v1/custom-fields")],
            "change": [matrix.api_patch("/api/v1/custom-fields/{pk}", lambda obj: {"label": "改名"})],
            "create": [
                matrix.api_create(
                    "/api/v1/custom-fields",
                    lambda owner: {"key": f"k{next(_n)}", "label": "字段", "field_type": "text"},
                )
            ],
        },
    )
)


# Models whose endpoints other areas own (scores, segments, jobs, duplicates): reachable at the
# access layer here; their own tests/matrix.py entry, when present, takes precedence.
def _job(model: Any, **extra: Any) -> Any:
    def make(owner: Any) -> Any:
        return model.objects.create(created_by=owner, **extra)

    return make


def _segment(owner: Any) -> m.Segment:
    return m.Segment.objects.create(name=f"分群{next(_n)}", owner=owner)


def _duplicate(owner: Any) -> m.DuplicateCandidate:
    a, b = customer(owner), customer(owner)
    return m.DuplicateCandidate.objects.create(customer_a=a, customer_b=b, score=0.9)


for object_type, make in (
    ("customers.customerscore", score),
    ("customers.segment", _segment),
    ("customers.importjob", _job(m.ImportJob, kind="customers", file_name="a.csv", file_path="matrix/a.csv")),
    ("customers.exportjob", _job(m.ExportJob, kind="customers")),
    ("customers.duplicatecandidate", _duplicate),
):
    if object_type not in matrix.entries():
        matrix.register(matrix.Reach(object_type, make=make))
