"""The shared field validators: the shapes they accept everywhere, and what only imports accept."""

from __future__ import annotations

import datetime as dt

import pytest

from crm.customers import validation


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2025/10/1 9:05", dt.datetime(2025, 10, 1, 9, 5)),
        ("2025年10月3日 14:30:15", dt.datetime(2025, 10, 3, 14, 30, 15)),
        ("2025.10.03", dt.datetime(2025, 10, 3)),
    ],
)
def test_unambiguous_local_date_times_are_accepted_everywhere(written: str, expected: dt.datetime) -> None:
    assert validation.clean_datetime(written).replace(tzinfo=None) == expected


def test_excel_serial_numbers_are_dates_only_in_spreadsheets() -> None:
    # a form or API client sending "32937" made a mistake; a spreadsheet cell that lost its format did not
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        validation.clean_date("32937")
    with pytest.raises(ValueError, match="ISO 8601"):
        validation.clean_datetime("45931.5")
    assert validation.clean_date("32937", spreadsheet=True) == dt.date(1990, 3, 5)
    assert validation.clean_datetime("45931.5", spreadsheet=True).replace(tzinfo=None) == dt.datetime(2025, 10, 1, 12)
