"""A tiny API mounted only in tests, exercising the conventions every real router follows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.urls import path
from django.utils import timezone
from ninja import Field, Header, Schema

from crm.core.api import Page, make_api, paginate, version_from
from crm.core.audit import record_audit
from crm.core.errors import NotFound, ValidationFailed, check_version
from crm.customers.models import Product

test_api = make_api(title="conventions", version="test", urls_namespace="conventions-api")


class ProductIn(Schema):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    list_price: Decimal = Field(ge=0, max_digits=14, decimal_places=2)


class ProductPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    list_price: Decimal | None = Field(default=None, ge=0)
    version: int | None = None


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    list_price: Decimal
    version: int


def create_product(*, actor: Any, sku: str, name: str, list_price: Decimal) -> Product:
    if Product.objects.filter(sku=sku).exists():
        raise ValidationFailed("SKU taken", errors={"sku": ["This SKU is already used."]})
    with transaction.atomic():
        product = Product.objects.create(sku=sku, name=name, list_price=list_price)
        record_audit(actor=actor, verb="create", obj=product)
    return product


def change_product(*, actor: Any, pk: int, changes: dict[str, Any], expected_version: int | None) -> Product:
    with transaction.atomic():
        product = Product.objects.select_for_update().filter(pk=pk).first()
        if product is None:
            raise NotFound()
        check_version(product.version, expected_version)
        for field, value in changes.items():
            setattr(product, field, value)
        product.version += 1
        product.updated_at = timezone.now()
        product.save()
        record_audit(actor=actor, verb="change", obj=product, changes=changes)
    return product


@test_api.post("/products", response={201: ProductOut})
def post_product(request: Any, data: ProductIn) -> Any:
    from ninja import Status

    return Status(201, create_product(actor=request.user, **data.dict()))


@test_api.patch("/products/{pk}", response=ProductOut)
def patch_product(request: Any, pk: int, data: ProductPatch, if_match: str | None = Header(None)) -> Any:
    expected = version_from(data.version, if_match)
    changes = data.dict(exclude_unset=True, exclude={"version"})
    return change_product(actor=request.user, pk=pk, changes=changes, expected_version=expected)


@test_api.get("/products", response=Page[ProductOut])
def list_products(request: Any, cursor: str | None = None, limit: int = 50) -> Any:
    rows, next_cursor = paginate(Product.objects.all(), cursor=cursor, limit=limit, ordering=["name", "id"])
    return {"items": rows, "next_cursor": next_cursor}


urlpatterns = [path("api/test/", test_api.urls)]
