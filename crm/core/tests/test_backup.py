"""`crm backup` / `crm restore` round trips on the configured database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from crm.customers.models import Product
from crm.testing.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def _seed() -> None:
    make_user(username="alice", display_name="爱丽丝")
    for i in range(5):
        Product.objects.create(sku=f"B-{i}", name=f"产品{i}", list_price="9.90")


def test_backup_then_restore_round_trips_with_equal_counts(tmp_path: Path) -> None:
    # given: data, and a backup of it
    _seed()
    target = tmp_path / "b1"
    call_command("backup", str(target))
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["tables"]["customers_product"] == 5
    assert manifest["tables"]["identity_user"] == 1
    # when: the data changes, then the backup is restored
    Product.objects.filter(sku__in=["B-0", "B-1"]).delete()
    Product.objects.create(sku="LATER", name="later", list_price="1")
    call_command("restore", str(target), yes=True)
    # then: the data is as it was at backup time
    assert sorted(Product.objects.values_list("sku", flat=True)) == [f"B-{i}" for i in range(5)]
    assert Product.objects.get(sku="B-3").name == "产品3"
    from crm.core.backup import count_live

    assert count_live("default", list(manifest["tables"])) == manifest["tables"]


def test_restore_refuses_counts_that_do_not_match_the_manifest(tmp_path: Path) -> None:
    # given: a backup whose manifest claims a different row count
    _seed()
    target = tmp_path / "b2"
    call_command("backup", str(target))
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["tables"]["customers_product"] = 6
    (target / "manifest.json").write_text(json.dumps(manifest))
    Product.objects.create(sku="KEEP", name="keep", list_price="1")
    # when / then: refused, and the live data is untouched
    with pytest.raises(CommandError, match="customers_product: manifest 6, found 5"):
        call_command("restore", str(target), yes=True)
    assert Product.objects.filter(sku="KEEP").exists()


def test_restore_refuses_a_damaged_file(tmp_path: Path) -> None:
    _seed()
    target = tmp_path / "b3"
    call_command("backup", str(target))
    data = next(p for p in target.iterdir() if p.name != "manifest.json")
    with data.open("ab") as handle:
        handle.write(b"garbage")
    with pytest.raises(CommandError, match="checksum"):
        call_command("restore", str(target), yes=True)


def test_backup_refuses_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(tmp_path))


def test_restore_without_yes_is_refused_when_not_interactive(tmp_path: Path) -> None:
    _seed()
    call_command("backup", str(tmp_path / "b4"))
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(tmp_path / "b4"))
