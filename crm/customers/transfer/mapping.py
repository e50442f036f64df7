"""Header auto-mapping: which column of an uploaded file goes into which field (English and Chinese)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from crm.core.models import CustomFieldDefinition

# field key -> (label, aliases). Aliases are compared after `normalise_header`.
CUSTOMER_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "external_id": (_("external id"), ("externalid", "外部编号", "客户编号", "编号", "id", "customerid", "客户id")),
    "name": (_("name"), ("name", "fullname", "customername", "姓名", "名称", "客户名称", "客户姓名", "客户")),
    "kind": (_("kind"), ("kind", "type", "customertype", "类型", "客户类型")),
    "gender": (_("gender"), ("gender", "sex", "性别")),
    "birth_date": (_("birth date"), ("birthdate", "birthday", "dob", "dateofbirth", "生日", "出生日期")),
    "company_name": (
        _("company"),
        ("company", "companyname", "organisation", "organization", "公司", "公司名称", "单位"),
    ),
    "industry": (_("industry"), ("industry", "行业")),
    "source": (_("source"), ("source", "leadsource", "来源", "客户来源", "渠道来源")),
    "email": (_("e-mail"), ("email", "e-mail", "mail", "emailaddress", "邮箱", "电子邮件", "电子邮箱", "邮件")),
    "phone": (
        _("phone"),
        (
            "phone",
            "mobile",
            "tel",
            "telephone",
            "phonenumber",
            "cellphone",
            "手机",
            "电话",
            "手机号",
            "手机号码",
            "联系电话",
        ),
    ),
    "address": (_("address"), ("address", "street", "地址", "联系地址", "详细地址")),
    "region": (_("region"), ("region", "province", "state", "省份", "省", "地区")),
    "city": (_("city"), ("city", "城市", "市")),
    "country": (_("country"), ("country", "国家")),
    "id_number": (_("ID number"), ("idnumber", "idcard", "nationalid", "身份证", "身份证号", "证件号码", "证件号")),
    "lifecycle_stage": (_("lifecycle stage"), ("lifecyclestage", "stage", "status", "阶段", "客户阶段", "生命周期")),
    "tags": (_("tags"), ("tags", "tag", "labels", "标签")),
    "owner": (_("owner"), ("owner", "负责人", "所有者", "销售")),
    "email_opt_in": (_("e-mail consent"), ("emailoptin", "邮件订阅", "允许邮件")),
    "sms_opt_in": (_("SMS consent"), ("smsoptin", "短信订阅", "允许短信")),
}

CONTACT_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "external_id": (_("external id"), ("externalid", "联系人编号", "编号", "contactid")),
    "customer_external_id": (_("customer external id"), ("customerexternalid", "customerid", "客户编号", "外部编号")),
    "customer_email": (_("customer e-mail"), ("customeremail", "客户邮箱")),
    "customer_phone": (_("customer phone"), ("customerphone", "客户手机", "客户电话")),
    "name": (_("name"), ("name", "contactname", "姓名", "名称", "联系人", "联系人姓名")),
    "title": (_("job title"), ("title", "jobtitle", "position", "职位", "职务", "头衔")),
    "email": (_("e-mail"), ("email", "e-mail", "mail", "邮箱", "电子邮件", "电子邮箱")),
    "phone": (_("phone"), ("phone", "mobile", "tel", "手机", "电话", "手机号", "手机号码", "联系电话")),
    "is_primary": (_("primary contact"), ("isprimary", "primary", "主联系人", "首要联系人")),
}

ORDER_FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "number": (_("order number"), ("number", "ordernumber", "orderno", "orderid", "订单号", "订单编号", "单号")),
    "customer_external_id": (
        _("customer external id"),
        ("customerexternalid", "customerid", "externalid", "客户编号", "外部编号", "客户id"),
    ),
    "customer_email": (_("customer e-mail"), ("customeremail", "email", "邮箱", "客户邮箱", "电子邮件")),
    "customer_phone": (_("customer phone"), ("customerphone", "phone", "mobile", "手机", "电话", "手机号", "客户手机")),
    "ordered_at": (
        _("ordered at"),
        ("orderedat", "orderdate", "ordertime", "date", "下单时间", "订单时间", "日期", "下单日期"),
    ),
    "total_amount": (_("total"), ("total", "amount", "totalamount", "金额", "总金额", "订单金额", "实付金额")),
    "currency": (_("currency"), ("currency", "币种", "货币")),
    "channel": (_("channel"), ("channel", "saleschannel", "渠道", "销售渠道")),
    "status": (_("status"), ("status", "orderstatus", "状态", "订单状态")),
    "sku": (_("SKU"), ("sku", "productcode", "itemcode", "商品编码", "商品编号", "货号")),
    "product_name": (_("product"), ("product", "productname", "item", "商品", "商品名称", "产品", "产品名称")),
    "category": (_("category"), ("category", "productcategory", "品类", "类别", "商品类别")),
    "quantity": (_("quantity"), ("quantity", "qty", "数量")),
    "unit_price": (_("unit price"), ("unitprice", "price", "单价", "价格")),
}

FIELDS_BY_KIND = {"customers": CUSTOMER_FIELDS, "contacts": CONTACT_FIELDS, "orders": ORDER_FIELDS}
CUSTOM_OBJECT_TYPE = {"customers": "customers.customer", "contacts": "customers.contact", "orders": "customers.order"}
REQUIRED = {"customers": ("name",), "contacts": ("name",), "orders": ("number", "ordered_at")}
IGNORE = ""
CUSTOM_PREFIX = "custom."

_PARENTHESES = re.compile(r"[(（\[【].*?[)）\]】]")


def normalise_header(text: str) -> str:
    """Lower-case, full-width folded, without spaces, underscores, '*' marks or "(必填)" remarks."""
    folded = unicodedata.normalize("NFKC", str(text)).strip().lower()
    folded = _PARENTHESES.sub("", folded)
    return re.sub(r"[\s_*:：./\\-]+", "", folded) or folded


def _labels(label: Any) -> list[str]:
    """A field's label in every shipped language, so exported headers map back whatever the UI language."""
    found = [str(label)]
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            found.append(str(label))
    return found


def field_choices(kind: str, custom: Sequence[CustomFieldDefinition] = ()) -> list[tuple[str, str]]:
    """(key, label) of every field a column may map to, for the mapping form."""
    choices = [(key, str(label)) for key, (label, _aliases) in FIELDS_BY_KIND[kind].items()]
    choices += [(f"{CUSTOM_PREFIX}{d.key}", d.label) for d in custom]
    return choices


def auto_map(kind: str, header: Sequence[str], custom: Sequence[CustomFieldDefinition] = ()) -> dict[str, str]:
    """{column index as str: field key}; each field taken by its first matching column only."""
    alias_index: dict[str, str] = {}
    for key, (label, aliases) in FIELDS_BY_KIND[kind].items():
        for alias in (key, *_labels(label), *aliases):
            alias_index.setdefault(normalise_header(alias), key)
    for definition in custom:
        target = f"{CUSTOM_PREFIX}{definition.key}"
        for alias in (definition.key, definition.label, definition.label_en, target):
            if alias:
                alias_index.setdefault(normalise_header(alias), target)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, title in enumerate(header):
        key = alias_index.get(normalise_header(title), IGNORE)
        if key and key not in taken:
            mapping[str(index)] = key
            taken.add(key)
    return mapping


def clean_mapping(
    kind: str, header: Sequence[str], mapping: dict[str, str], custom: Sequence[CustomFieldDefinition] = ()
) -> tuple[dict[int, str], dict[str, list[str]]]:
    """Validate a user-edited mapping: ({column index: field}, field errors)."""
    allowed = {key for key, _label in field_choices(kind, custom)}
    result: dict[int, str] = {}
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for raw_index, key in mapping.items():
        if not key:
            continue
        try:
            index = int(raw_index)
        except (TypeError, ValueError):
            errors[f"mapping.{raw_index}"] = [str(_("Unknown column."))]
            continue
        if index < 0 or index >= len(header):
            errors[f"mapping.{raw_index}"] = [str(_("Unknown column."))]
        elif key not in allowed:
            errors[f"mapping.{raw_index}"] = [str(_("Unknown field %(key)s.") % {"key": key})]
        elif key in seen:
            errors[f"mapping.{raw_index}"] = [str(_("Two columns are mapped to %(key)s.") % {"key": key})]
        else:
            seen[key] = index
            result[index] = key
    for required in REQUIRED[kind]:
        if required not in seen:
            label = FIELDS_BY_KIND[kind][required][0]
            errors[f"mapping.{required}"] = [str(_("No column is mapped to the required field %(f)s.") % {"f": label})]
    if kind in {"contacts", "orders"} and not {"customer_external_id", "customer_email", "customer_phone"} & set(seen):
        errors["mapping.customer"] = [
            str(_("Map a column that identifies the customer (external id, e-mail or phone)."))
        ]
    return result, errors
