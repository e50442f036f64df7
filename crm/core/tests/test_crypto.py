"""Encryption at rest: AES-GCM values with key ids, blind indexes, key rotation, nothing readable in dumps."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from crm.core import crypto
from crm.core.models import AuditEntry
from crm.customers.models import Customer

OLD_KEY = crypto.generate_key()
NEW_KEY = crypto.generate_key()
SEEDED = [
    ("zhang.san.seeded@example.com", "+8613800138001"),
    ("li.si.seeded@example.com", "+8613900139002"),
]


@pytest.fixture
def keys(settings: Any) -> Iterator[Any]:
    """Switch the configured keys within a test; the keyring cache follows."""

    def use(spec: str) -> None:
        settings.ENCRYPTION_KEYS = spec
        settings.ENCRYPTION_KEY_FILE = ""
        crypto.reset_keyring()

    yield use
    crypto.reset_keyring()


def raw_column(pk: int, column: str = "email") -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM customers_customer WHERE id = %s", [pk])  # noqa: S608
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_values_are_stored_encrypted_with_their_key_id(keys: Any) -> None:
    keys(f"k1:{OLD_KEY}")
    customer = Customer.objects.create(name="张三", email="zhang@example.com")
    stored = raw_column(customer.pk)
    assert stored.startswith("enc:v1:k1:")
    assert "zhang" not in stored
    assert Customer.objects.get(pk=customer.pk).email == "zhang@example.com"
    # the same plaintext encrypts differently each time (random nonce)
    assert crypto.keyring().encrypt("x") != crypto.keyring().encrypt("x")


def test_bulk_encrypter_uses_a_fresh_nonce_per_value_across_refills(keys: Any) -> None:
    # given the bulk encrypter an import uses, and more values than one draw of nonces
    keys(f"k1:{OLD_KEY}")
    encrypt = crypto.keyring().bulk_encrypter()
    count = crypto._NoncePool._BATCH * 2 + 5
    sealed = [encrypt("13800138000") for _ in range(count)]
    # then every value reads back with the ordinary keyring, and no nonce is ever used twice
    assert {crypto.keyring().decrypt(value) for value in sealed} == {"13800138000"}
    assert all(value.startswith("enc:v1:k1:") for value in sealed)
    nonces = {base64.urlsafe_b64decode(crypto.parse(value)[1])[: crypto.NONCE_BYTES] for value in sealed}
    assert len(nonces) == count
    # and two encrypters (two imports) draw their own nonces
    assert encrypt("x") != crypto.keyring().bulk_encrypter()("x")


@pytest.mark.django_db
def test_tampered_ciphertext_is_refused(keys: Any) -> None:
    keys(f"k1:{OLD_KEY}")
    sealed = crypto.keyring().encrypt("secret")
    body = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    from cryptography.exceptions import InvalidTag

    with pytest.raises((InvalidTag, ValueError)):
        crypto.keyring().decrypt(body)


def test_unknown_key_id_and_bad_keys_are_configuration_errors(keys: Any) -> None:
    keys(f"k1:{OLD_KEY}")
    other = crypto.KeyRing("k9", {"k9": crypto._decode_key("k9", NEW_KEY)}).encrypt("x")
    with pytest.raises(ImproperlyConfigured):
        crypto.keyring().decrypt(other)
    keys("k1:dG9vLXNob3J0")
    with pytest.raises(ImproperlyConfigured):
        crypto.keyring()
    keys("no-colon-here")
    with pytest.raises(ImproperlyConfigured):
        crypto.keyring()


@pytest.mark.django_db
def test_key_file_is_read(keys: Any, settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# primary first\nfile2:{NEW_KEY}\nfile1:{OLD_KEY}\n", encoding="utf-8")
    settings.ENCRYPTION_KEY_FILE = str(path)
    crypto.reset_keyring()
    assert crypto.keyring().primary_id == "file2"
    assert set(crypto.keyring().keys) == {"file1", "file2"}


@pytest.mark.django_db
def test_exact_lookup_on_an_encrypted_field_is_refused_except_empty() -> None:
    Customer.objects.create(name="a", email="a@example.com")
    Customer.objects.create(name="b")
    with pytest.raises(TypeError, match="blind index"):
        list(Customer.objects.filter(email="a@example.com"))
    with pytest.raises(TypeError, match="blind index"):
        list(Customer.objects.filter(email__icontains="a"))
    assert list(Customer.objects.filter(email="").values_list("name", flat=True)) == ["b"]
    assert Customer.objects.filter(email__isnull=False).count() == 2


def test_blind_index_normalises_and_is_keyed() -> None:
    assert crypto.blind_index("email", " Zhang@Example.COM ") == crypto.blind_index("email", "zhang@example.com")
    assert crypto.blind_index("phone", "138 0013 8000") == crypto.blind_index("phone", "+86 138-0013-8000")
    assert crypto.blind_index("email", "a@example.com") != crypto.blind_index("email", "b@example.com")
    assert crypto.blind_index("email", "") == ""
    assert "example" not in crypto.blind_index("email", "a@example.com")
    with pytest.raises(ValueError, match=r"phone|number|possible"):
        crypto.normalise_phone("12")


def test_keys_generate_prints_env_lines() -> None:
    out = StringIO()
    call_command("keys", "generate", stdout=out, stderr=StringIO())
    lines = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    key_id, _, key = lines["CRM_ENCRYPTION_KEYS"].partition(":")
    assert key_id.startswith("k")
    assert crypto._decode_key(key_id, key)
    assert len(crypto.generate_key()) >= 43
    assert lines["CRM_BLIND_INDEX_KEY"]


# --- rotation ----------------------------------------------------------------------------------------


def key_ids(column: str = "email") -> dict[str, int]:
    field = Customer._meta.get_field(column)
    assert isinstance(field, crypto.EncryptedTextField)
    return crypto.count_by_key(Customer, field)


@pytest.mark.django_db
def test_rotation_end_to_end(keys: Any) -> None:
    # given customers written under the old key
    keys(f"old:{OLD_KEY}")
    people = [
        Customer.objects.create(name=f"客户{i}", email=f"c{i}@example.com", phone=f"+86138001380{i:02d}")
        for i in range(7)
    ]
    assert key_ids() == {"old": 7}
    # when a new primary key is configured (the old one kept for reading) the app still reads everything
    keys(f"new:{NEW_KEY},old:{OLD_KEY}")
    assert Customer.objects.get(pk=people[0].pk).email == "c0@example.com"
    # and `crm keys rotate` runs in small batches
    out = StringIO()
    call_command("keys", "rotate", "--batch-size", "3", stdout=out)
    # then every value is under the new key, with progress reported, and the act audited
    assert key_ids() == {"new": 7}
    assert key_ids("phone") == {"new": 7}
    assert "re-encrypted" in out.getvalue()
    assert "old may now be removed" in out.getvalue()
    assert AuditEntry.objects.filter(verb="keys.rotate", object_id="new").exists()
    # and once the old key is dropped, the data still reads back
    keys(f"new:{NEW_KEY}")
    assert [Customer.objects.get(pk=p.pk).email for p in people] == [f"c{i}@example.com" for i in range(7)]


@pytest.mark.django_db
def test_rotation_is_resumable_and_never_overwrites_a_concurrent_edit(keys: Any) -> None:
    keys(f"old:{OLD_KEY}")
    people = [Customer.objects.create(name=f"p{i}", email=f"p{i}@example.com") for i in range(6)]
    keys(f"new:{NEW_KEY},old:{OLD_KEY}")
    field = Customer._meta.get_field("email")
    assert isinstance(field, crypto.EncryptedTextField)
    # when a rotation is interrupted after its first batch
    run = crypto.rotate_field(Customer, field, batch_size=2)
    first = next(run)
    assert first.rewritten == 2
    run.close()
    assert key_ids() == {"new": 2, "old": 4}
    # and the application meanwhile edits a row that was read for the next batch
    stale = raw_column(people[2].pk)
    Customer.objects.filter(pk=people[2].pk).update(email="edited@example.com")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET email = %s WHERE id = %s AND email = %s",
            [crypto.keyring().encrypt("p2@example.com"), people[2].pk, stale],
        )
        assert cursor.rowcount == 0  # the compare-and-set the rotation uses refuses the stale write
    # then running again finishes the job, skipping what is done
    rewritten = sum(step.rewritten for step in crypto.rotate_all(batch_size=2))
    assert rewritten == 3
    assert key_ids() == {"new": 6}
    assert Customer.objects.get(pk=people[2].pk).email == "edited@example.com"


@pytest.mark.django_db
def test_keys_status_counts_per_key(keys: Any) -> None:
    keys(f"k1:{OLD_KEY}")
    Customer.objects.create(name="x", email="x@example.com")
    out = StringIO()
    call_command("keys", "status", stdout=out)
    assert "customers_customer.email: k1=1" in out.getvalue()


# --- nothing readable at rest ----------------------------------------------------------------------


def seed_customers() -> None:
    for i, (email, phone) in enumerate(SEEDED):
        Customer.objects.create(
            name=f"明文检查{i}",
            email=email,
            email_bidx=crypto.blind_index("email", email),
            phone=phone,
            phone_bidx=crypto.blind_index("phone", phone),
            address="浙江省杭州市西湖区文三路 90 号",
            id_number="110101199003074477",
        )


def assert_no_plaintext(blob: bytes) -> None:
    assert "明文检查0".encode() in blob, "the dump does not contain the seeded rows at all"
    for email, phone in SEEDED:
        for needle in (email, email.split("@")[0], phone, phone[3:]):
            assert needle.encode() not in blob, f"{needle} readable at rest"
    assert "文三路".encode() not in blob
    assert b"110101199003074477" not in blob


@pytest.mark.django_db(transaction=True)
def test_sqlite_file_holds_no_plaintext(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite file check")
    seed_customers()
    target = tmp_path / "copy.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(target)])
    assert_no_plaintext(target.read_bytes())


@pytest.mark.django_db(transaction=True)
def test_postgresql_dump_holds_no_plaintext() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump check")
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump not installed")
    seed_customers()
    params = connection.get_connection_params()
    env = {**os.environ, "PGPASSWORD": str(params.get("password") or "")}
    dump = subprocess.run(
        [
            pg_dump,
            "-h",
            str(params.get("host") or "127.0.0.1"),
            "-p",
            str(params.get("port") or 5432),
            "-U",
            str(params.get("user") or "postgres"),
            "--data-only",
            str(connection.settings_dict["NAME"]),
        ],
        capture_output=True,
        check=True,
        env=env,
        timeout=120,
    ).stdout
    assert_no_plaintext(dump)
