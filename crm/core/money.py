"""Money is a Decimal with an ISO 4217 currency: validation, rounding and locale formatting."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel.numbers import format_currency, list_currencies
from django.utils.translation import get_language
from django.utils.translation import gettext as _

CENT = Decimal("0.01")


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def clean_currency(value: Any) -> str:
    code = str(value or "").strip().upper()
    if code not in known_currencies():
        raise ValueError(_("Unknown currency %(code)s: use an ISO 4217 code such as CNY or USD.") % {"code": value})
    return code


def clean_amount(value: Any, *, allow_negative: bool = False) -> Decimal:
    try:
        amount = Decimal(str(value).strip().replace(",", "").replace("¥", "").replace("￥", ""))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(_("Enter an amount such as 1234.50.")) from exc
    if not amount.is_finite():
        raise ValueError(_("Enter an amount such as 1234.50."))
    if amount < 0 and not allow_negative:
        raise ValueError(_("The amount cannot be negative."))
    if abs(amount) >= Decimal("1e12"):
        raise ValueError(_("The amount is too large."))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(amount: Decimal | float | int | None, currency: str) -> str:
    if amount is None:
        return ""
    locale = "zh_Hans_CN" if (get_language() or "").startswith("zh") else "en_US"
    return format_currency(amount, currency, locale=locale)
