"""Fast, exact field cleaning for imports: common shapes take a quick path, the rest the shared validators.

The quick paths give the same result as `crm.customers.validation` for the values they accept
(tests compare them on samples); anything unusual falls through to the shared validator.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from functools import lru_cache
from typing import Any

import phonenumbers
from django.utils.translation import gettext as _

from crm.core import crypto
from crm.customers import validation
from crm.customers.choices import CustomerKind, LifecycleStage, OrderChannel, OrderStatus

_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test", "example", "internal"})
_CN_MOBILE = re.compile(r"^(?:\+86|0086|86)?(1[3-9]\d{9})$")
_PHONE_NOISE = str.maketrans("", "", " -()（）\u3000")


def clean_email(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    if len(text) <= 254 and _EMAIL.match(text):
        local, _at, domain = text.rpartition("@")
        if len(local) <= 64 and domain.rsplit(".", 1)[-1].lower() not in _SPECIAL_TLDS:
            return f"{local}@{domain.lower()}"
    return validation.clean_email(text)


@lru_cache(maxsize=1)
def _cn_mobile_pattern() -> re.Pattern[str]:
    """libphonenumber's own rule for Chinese mobile numbers (a match is a valid number)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    if metadata is None or metadata.mobile is None or not metadata.mobile.national_number_pattern:
        return re.compile(r"(?!x)x")  # never matches: everything takes the full validator
    return re.compile(metadata.mobile.national_number_pattern)


def clean_phone(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    match = _CN_MOBILE.match(text.translate(_PHONE_NOISE))
    if match and _cn_mobile_pattern().fullmatch(match.group(1)):
        return "+86" + match.group(1)
    return validation.clean_phone(text)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def clean_past_date(value: Any, today: dt.date) -> dt.date | None:
    """`validation.clean_date(value, not_future=True)` with today's date computed once per import."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            day = None
        if day is not None and day.year >= 1900 and day <= today:
            return day
    day = validation.clean_date(value, spreadsheet=True)
    if day is not None and day > today:
        raise ValueError(_("The date cannot be in the future."))
    return day


# Base32 (RFC 4648, lower case) ten bits at a time: 20 digest bytes are exactly 32 characters.
_B32_PAIRS = tuple(a + b for a in "abcdefghijklmnopqrstuvwxyz234567" for b in "abcdefghijklmnopqrstuvwxyz234567")
_B32_SHIFTS = tuple(range(150, -1, -10))


def _b32_of_160_bits(data: bytes) -> str:
    """`b32encode(data).decode().lower()` for 20 bytes, without the pure-Python loop of `base64`."""
    number = int.from_bytes(data, "big")
    pairs = _B32_PAIRS
    return "".join([pairs[(number >> shift) & 0x3FF] for shift in _B32_SHIFTS])


@lru_cache(maxsize=2)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod="sha256")


def blind_index_of(kind: str, normalised: str) -> str:
    """`crypto.blind_index` for a value already in normalised form (skips re-parsing; tested equal).

    The key's HMAC state is set up once and copied per value (a third cheaper than `hmac.digest`)."""
    if not normalised:
        return ""
    mac = _keyed_hmac(crypto._blind_key()).copy()
    mac.update(f"{kind}:{normalised}".encode())
    return _b32_of_160_bits(mac.digest()[:20])


def email_bidx(email: str) -> str:
    return blind_index_of("email", crypto.normalise_email(email)) if email else ""


def phone_bidx(e164: str) -> str:
    return blind_index_of("phone", e164) if e164 else ""


def identifier_bidx(value: str) -> str:
    return blind_index_of("identifier", crypto.normalise_identifier(value)) if value else ""


def clean_text(value: Any, *, max_length: int) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > max_length:
        raise ValueError(_("Use at most %(n)s characters.") % {"n": max_length})
    return text


def _choice_cleaner(aliases: dict[str, str], choices: Any) -> Any:
    table = {str(v).lower(): str(v) for v in choices.values}
    table.update({str(label).lower(): str(v) for v, label in choices.choices})
    table.update(aliases)

    def clean(value: Any, default: str) -> str:
        key = str(value or "").strip().lower()
        if not key:
            return default
        found = table.get(key)
        if found is None:
            # Labels are translated: accept the label in the user's language too.
            found = {str(label).lower(): str(v) for v, label in choices.choices}.get(key)
        if found is None:
            # Name the choices as the user writes them: the labels in their language (accepted too).
            labels = ", ".join(str(label) for _value, label in choices.choices)
            raise ValueError(_("Choose one of: %(choices)s.") % {"choices": labels})
        return found

    return clean


clean_kind = _choice_cleaner(
    {
        "个人": "person",
        "b2c": "person",
        "企业": "organisation",
        "公司": "organisation",
        "组织": "organisation",
        "机构": "organisation",
        "organization": "organisation",
        "company": "organisation",
        "b2b": "organisation",
    },
    CustomerKind,
)
clean_stage = _choice_cleaner(
    {
        "潜在客户": "prospect",
        "潜客": "prospect",
        "线索": "lead",
        "客户": "customer",
        "成交客户": "customer",
        "流失": "churned",
        "已流失": "churned",
        "vip客户": "vip",
    },
    LifecycleStage,
)
clean_order_status = _choice_cleaner(
    {
        "已支付": "paid",
        "已付款": "paid",
        "完成": "paid",
        "已完成": "paid",
        "部分退款": "partially_refunded",
        "已退款": "refunded",
        "退款": "refunded",
        "已取消": "cancelled",
        "取消": "cancelled",
        "canceled": "cancelled",
    },
    OrderStatus,
)
clean_order_channel = _choice_cleaner(
    {
        "线上": "online",
        "网店": "online",
        "电商": "online",
        "门店": "store",
        "线下": "store",
        "销售": "sales",
        "电话": "phone",
        "合作伙伴": "partner",
        "渠道": "partner",
        "其他": "other",
    },
    OrderChannel,
)

_TRUE = {"1", "true", "yes", "y", "是", "对", "真", "✓"}
_FALSE = {"", "0", "false", "no", "n", "否", "不", "假"}


def clean_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    key = str(value or "").strip().lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ValueError(_("Enter yes or no."))


_COUNTRIES = {"中国": "CN", "中国大陆": "CN", "china": "CN", "美国": "US", "usa": "US", "香港": "HK", "台湾": "TW"}


def clean_country(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return "CN"
    code = _COUNTRIES.get(text.lower(), text.upper())
    if len(code) != 2 or not code.isalpha():
        raise ValueError(_("Use a two-letter country code such as CN."))
    return code


def split_tags(value: Any) -> list[str]:
    text = str(value or "")
    for sep in "，;；|、":
        text = text.replace(sep, ",")
    tags = []
    for item in text.split(","):
        name = item.strip()
        if name:
            if len(name) > 50:
                raise ValueError(_("A tag has at most 50 characters."))
            tags.append(name)
    return list(dict.fromkeys(tags))
