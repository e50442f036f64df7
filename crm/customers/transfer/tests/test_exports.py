"""Exports: access scope, hidden fields absent, formula injection neutralised, audited, streamed."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from crm.core.access import Scope
from crm.core.models import AuditEntry
from crm.customers.models import Customer
from crm.customers.transfer.exports import safe_cell
from crm.customers.transfer.tests.helpers import csv_bytes, run_import
from crm.identity.models import Role, RoleFieldRule, RolePermission
from crm.testing.factories import make_token, make_user

pytestmark = pytest.mark.django_db


def member_with(*, hidden: tuple[str, ...] = (), scope: Scope = Scope.OWN) -> Any:
    role = Role.objects.create(name="Exporter", code="exporter")
    for verb in ("view", "export"):
        RolePermission.objects.create(role=role, object_type="customers.customer", verb=verb, scope=int(scope))
    for field in hidden:
        RoleFieldRule.objects.create(
            role=role, object_type="customers.customer", field=field, mode=RoleFieldRule.HIDDEN
        )
    return make_user(username="member", role=role)


def decoded_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("张三", "张三"),
    ],
)
def test_safe_cell_neutralises_formula_starts(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


def test_csv_export_has_no_hidden_fields_and_only_own_rows(admin: Any) -> None:
    # given a member who may export their own customers and may not see phones
    member = member_with(hidden=("phone", "id_number"))
    run_import(
        admin,
        csv_bytes(
            [["name", "phone", "email"], ["Mine", "13800138000", "m@example.com"], ["Theirs", "13900139000", ""]]
        ),
    )
    Customer.objects.filter(name="Mine").update(owner=member)
    client = Client(headers={"Authorization": f"Bearer {make_token(member)}", "Accept-Language": "en"})
    # when they export through the API and download the file
    created = client.post("/api/v1/exports", {"kind": "customers", "format": "csv"}, content_type="application/json")
    assert created.status_code == 201, created.content
    download = client.get(created.json()["download_url"])
    rows = decoded_csv(b"".join(download.streaming_content))
    # then only their customer is there, without the hidden columns or values
    assert len(rows) == 2
    assert "+8613800138000" not in "".join(rows[1])
    assert "'+8613800138000" not in "".join(rows[1])
    assert "m@example.com" in rows[1]
    assert rows[1][rows[0].index("name")] == "Mine"
    assert not {"phone", "ID number"} & set(rows[0])
    # and the export is audited with its row count
    entry = AuditEntry.objects.get(verb="export")
    assert entry.extra["rows"] == 1
    assert entry.actor_id == member.pk


def test_export_without_permission_is_forbidden(admin: Any) -> None:
    role = Role.objects.create(name="Viewer", code="viewer")
    RolePermission.objects.create(role=role, object_type="customers.customer", verb="view", scope=int(Scope.ALL))
    viewer = make_user(username="viewer", role=role)
    client = Client(headers={"Authorization": f"Bearer {make_token(viewer)}"})
    response = client.post("/api/v1/exports", {"kind": "customers"}, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/problem+json")


def test_formula_cells_are_neutralised_in_csv_and_xlsx(admin: Any, admin_session: Client) -> None:
    # given a customer whose name and company are formula attacks
    Customer.objects.create(name='=HYPERLINK("http://evil")', company_name="@SUM(1+1)", city="-1+2")
    # when exported as CSV from the page
    response = admin_session.get("/customers/imports/export/?records=customers&format=csv")
    assert response.status_code == 200
    rows = decoded_csv(b"".join(response.streaming_content))
    header, row = rows[0], rows[1]
    assert row[header.index("name")] == '\'=HYPERLINK("http://evil")'
    assert row[header.index("company")] == "'@SUM(1+1)"
    # and as XLSX: the cell is text, never a formula
    response = admin_session.get("/customers/imports/export/?records=customers&format=xlsx")
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.worksheets[0]
    values = [c.value for c in sheet[2]]
    assert '\'=HYPERLINK("http://evil")' in values
    assert all(c.data_type != "f" for c in sheet[2])
    assert AuditEntry.objects.filter(verb="export").count() == 2


def test_exported_file_imports_back(admin: Any, admin_session: Client) -> None:
    run_import(admin, csv_bytes([["姓名", "手机", "标签"], ["甲", "13800138000", "a,b"]]))
    response = admin_session.get("/customers/imports/export/?records=customers&format=csv")
    exported = b"".join(response.streaming_content)
    Customer.objects.all().delete()
    job = run_import(admin, exported)
    assert job.status == "succeeded", job.errors
    again = Customer.objects.get()
    assert (again.name, again.phone) == ("甲", "+8613800138000")
    assert sorted(again.tags.values_list("name", flat=True)) == ["a", "b"]


def test_orders_export_one_row_per_line(admin: Any, admin_session: Client) -> None:
    run_import(admin, csv_bytes([["外部编号", "姓名"], ["C1", "甲"]]))
    run_import(
        admin,
        csv_bytes(
            [
                ["订单号", "客户编号", "下单时间", "商品名称", "数量", "单价"],
                ["O1", "C1", "2025-01-01", "a", "1", "2"],
                ["O1", "C1", "2025-01-01", "b", "2", "3"],
            ]
        ),
        kind="orders",
        name="o.csv",
    )
    response = admin_session.get("/customers/imports/export/?records=orders&format=csv")
    rows = decoded_csv(b"".join(response.streaming_content))
    assert len(rows) == 3


def test_orders_export_has_the_order_custom_columns_and_imports_back(admin: Any, admin_session: Client) -> None:
    from crm.customers import services
    from crm.customers.models import Order

    # given two order fields, one inactive, and an order with values imported by label
    for key, label, kind, choices, active in (
        ("source", "订单来源", "choice", ["门店", "电商"], True),
        ("gifts", "赠品", "multi_choice", ["茶杯", "礼袋"], True),
        ("old", "旧字段", "text", [], False),
    ):
        definition = services.save_custom_field(
            actor=admin,
            data={"object_type": "customers.order", "key": key, "label": label, "field_type": kind, "choices": choices},
        )
        if not active:
            services.save_custom_field(actor=admin, data={"is_active": False}, instance=definition)
    run_import(admin, csv_bytes([["外部编号", "姓名"], ["C1", "甲"]]))
    run_import(
        admin,
        csv_bytes(
            [
                ["订单号", "客户编号", "下单时间", "商品名称", "数量", "单价", "订单来源", "赠品"],
                ["O1", "C1", "2025-01-01", "a", "1", "2", "门店", "茶杯;礼袋"],
                ["O1", "C1", "2025-01-01", "b", "2", "3", "", ""],
            ]
        ),
        kind="orders",
        name="o.csv",
    )
    # when exported
    response = admin_session.get("/customers/imports/export/?records=orders&format=csv")
    exported = b"".join(response.streaming_content)
    rows = decoded_csv(exported)
    # then the active fields are columns by label, filled on every line of the order
    header = rows[0]
    assert {"订单来源", "赠品"} <= set(header)
    assert "旧字段" not in header
    source, gifts = header.index("订单来源"), header.index("赠品")
    assert [(r[source], r[gifts]) for r in rows[1:]] == [("门店", "茶杯;礼袋"), ("门店", "茶杯;礼袋")]
    # and the file imports back with the same values
    Order.objects.all().delete()
    job = run_import(admin, exported, kind="orders", name="again.csv")
    assert job.status == "succeeded", job.errors
    assert Order.objects.get().custom == {"source": "门店", "gifts": ["茶杯", "礼袋"]}


def test_contacts_export_has_the_contact_custom_columns_and_imports_back(admin: Any, admin_session: Client) -> None:
    from crm.customers import services
    from crm.customers.models import Contact

    # given a contact field and a contact with a value, imported by the field's label
    services.save_custom_field(
        actor=admin,
        data={"object_type": "customers.contact", "key": "role", "label": "决策角色", "field_type": "choice",
              "choices": ["决策人", "使用人"]},
    )  # fmt: skip
    run_import(admin, csv_bytes([["外部编号", "姓名"], ["C1", "甲"]]))
    job = run_import(
        admin, csv_bytes([["客户编号", "姓名", "决策角色"], ["C1", "王经理", "决策人"]]), kind="contacts", name="c.csv"
    )
    assert job.status == "succeeded", job.errors
    # when the contacts are exported
    response = admin_session.get("/customers/imports/export/?records=contacts&format=csv")
    exported = b"".join(response.streaming_content)
    rows = decoded_csv(exported)
    # then the field is a column headed by its label, with the value
    assert rows[1][rows[0].index("决策角色")] == "决策人"
    # and the file imports back with the same value
    Contact.objects.all().delete()
    job = run_import(admin, exported, kind="contacts", name="again.csv")
    assert job.status == "succeeded", job.errors
    assert Contact.objects.get().custom == {"role": "决策人"}


def test_page_export_honours_the_list_filters(admin: Any, admin_session: Client) -> None:
    Customer.objects.create(name="上海客户", city="上海")
    Customer.objects.create(name="北京客户", city="北京")
    response = admin_session.get(
        "/customers/imports/export/", {"records": "customers", "format": "csv", "city": "上海"}
    )
    rows = decoded_csv(b"".join(response.streaming_content))
    assert [r[rows[0].index("name")] for r in rows[1:]] == ["上海客户"]
    assert AuditEntry.objects.get(verb="export").extra["filters"]["conditions"][0]["field"] == "city"


def test_page_export_honours_the_list_search_box(admin: Any, admin_session: Client) -> None:
    Customer.objects.create(name="张三丰", city="上海")
    Customer.objects.create(name="李四", city="上海")
    Customer.objects.create(name="张三", city="北京")
    response = admin_session.get(
        "/customers/imports/export/", {"records": "customers", "format": "csv", "city": "上海", "q": "张三"}
    )
    rows = decoded_csv(b"".join(response.streaming_content))
    assert [r[rows[0].index("name")] for r in rows[1:]] == ["张三丰"]
    assert AuditEntry.objects.get(verb="export").extra["filters"]["q"] == "张三"


def test_api_export_with_a_filter_definition(api_client: Client) -> None:
    Customer.objects.create(name="A", lifecycle_stage="vip")
    Customer.objects.create(name="B")
    definition = {"match": "all", "conditions": [{"field": "lifecycle_stage", "op": "eq", "value": "vip"}]}
    created = api_client.post(
        "/api/v1/exports", {"kind": "customers", "filters": definition}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["row_count"] == 1
    bad = api_client.post(
        "/api/v1/exports",
        {"kind": "customers", "filters": {"conditions": [{"field": "nope", "op": "eq", "value": 1}]}},
        content_type="application/json",
    )
    assert bad.status_code == 422
