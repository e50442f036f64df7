"""`crm import` and `crm export` run the same services inline, with readable errors."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from crm.customers.models import Customer
from crm.customers.transfer.tests.helpers import csv_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_then_export_from_the_command_line(admin: Any, tmp_path: Path) -> None:
    source = tmp_path / "客户.csv"
    source.write_bytes(csv_bytes([["姓名", "手机"], ["甲", "13800138000"], ["乙", "bad"]], encoding="gbk"))
    out = io.StringIO()
    call_command(
        "import",
        str(source),
        "--kind",
        "customers",
        "--mode",
        "valid_rows",
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert out.getvalue().startswith("succeeded")
    assert Customer.objects.get().name == "甲"
    target = tmp_path / "out.xlsx"
    call_command(
        "export",
        "--kind",
        "customers",
        "--format",
        "xlsx",
        "--user",
        "boss",
        "--output",
        str(target),
        stderr=io.StringIO(),
    )
    assert target.read_bytes()[:2] == b"PK"


def test_import_failure_is_a_command_error(admin: Any, tmp_path: Path) -> None:
    source = tmp_path / "c.csv"
    source.write_bytes(csv_bytes([["name", "email"], ["a", "bad@"]]))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import", str(source), "--no-progress", stdout=io.StringIO(), stderr=err)
    assert "row 2 email" in err.getvalue()
    assert not Customer.objects.exists()
