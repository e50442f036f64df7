"""Field validation shared by every way customers and orders come in: forms, API, imports.

Each `clean_*` returns the normalised value or raises ValueError with a message in the
user's language. Callers collect these per field and raise one ValidationFailed.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import phonenumbers
from django.utils import timezone
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from crm.core.crypto import strip_spreadsheet_decimals
from crm.customers.choices import Gender


def clean_email(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(_("Enter a valid e-mail address.")) from exc


def clean_phone(value: Any, region: str = "CN") -> str:
    """Phone numbers are stored in E.164 (+8613800138000); Chinese mobiles may be written without +86."""
    text = strip_spreadsheet_decimals(str(value or ""))
    if not text:
        return ""
    try:
        parsed = phonenumbers.parse(text, region or "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("Enter a valid phone number.")) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(_("Enter a valid phone number."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


GENDER_ALIASES = {
    "": "",
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "女": Gender.FEMALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "男": Gender.MALE,
    "other": Gender.OTHER,
    "其他": Gender.OTHER,
    "unknown": "",
    "未知": "",
}


def clean_gender(value: Any) -> str:
    key = str(value or "").strip().lower()
    if key not in GENDER_ALIASES:
        raise ValueError(_("Use female, male, other or leave empty."))
    return str(GENDER_ALIASES[key])


# What Chinese spreadsheets write besides ISO 8601: 2025/10/1 9:05, 2025.10.01, 2025年10月1日 14:30.
_LOCAL_DATETIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|T)(\d{1,2})[:：](\d{1,2})(?:[:：](\d{1,2}))?)?$"
)
# A date cell that lost its format: Excel's serial day number (5 digits: 1927–2173), a fraction is the time.
_EXCEL_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)  # serial 1 is 1900-01-01, counting Excel's non-existent 1900-02-29


def _from_excel_serial(text: str) -> dt.datetime:
    return _EXCEL_EPOCH + dt.timedelta(seconds=round(float(text) * 86400))


def _spreadsheet_datetime(text: str, *, serials: bool) -> dt.datetime:
    """A naive moment from the non-ISO shapes spreadsheets write; ValueError (translated) otherwise."""
    try:
        if serials and _EXCEL_SERIAL.match(text):
            return _from_excel_serial(text)
        match = _LOCAL_DATETIME.match(text)
        if match:
            year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
            return dt.datetime(year, month, day, hour, minute, second)
    except (ValueError, OverflowError):
        pass
    raise ValueError(_("Enter a valid date and time (ISO 8601, e.g. 2026-03-01 14:30)."))


def clean_date(value: Any, *, not_future: bool = False, spreadsheet: bool = False) -> dt.date | None:
    """`spreadsheet`: the value comes from an imported file, where a bare 5-digit number is an Excel serial."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    elif spreadsheet and _EXCEL_SERIAL.match(str(value).strip()):
        day = _from_excel_serial(str(value).strip()).date()
    else:
        text = str(value).strip().replace("/", "-").replace(".", "-")
        text = text.replace("年", "-").replace("月", "-").replace("日", "")
        try:
            day = dt.date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")) if text.count("-") == 2 else text)
        except ValueError as exc:
            raise ValueError(_("Enter a valid date (YYYY-MM-DD).")) from exc
    if not_future and day > timezone.localdate():
        raise ValueError(_("The date cannot be in the future."))
    if day.year < 1900:
        raise ValueError(_("The date is too far in the past."))
    return day


def clean_datetime(value: Any, *, not_future: bool = False, spreadsheet: bool = False) -> dt.datetime:
    """`spreadsheet`: the value comes from an imported file, where a bare number is an Excel serial."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if not text:
            raise ValueError(_("This field is required."))
        try:
            moment = dt.datetime.fromisoformat(text.replace("/", "-").replace("Z", "+00:00"))
        except ValueError:
            moment = _spreadsheet_datetime(text, serials=spreadsheet)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    # Allow a few minutes of clock skew between systems.
    if not_future and moment > timezone.now() + dt.timedelta(minutes=5):
        raise ValueError(_("An order cannot be placed in the future."))
    return moment


def clean_name(value: Any, *, max_length: int = 200) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise ValueError(_("This field is required."))
    if len(text) > max_length:
        raise ValueError(_("Use at most %(n)s characters.") % {"n": max_length})
    return text
