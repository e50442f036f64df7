"""The audit trail: append-only in the database, hash-chained, verifiable, readable by administrators."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client
from django.utils import timezone

from crm.core import audit, context
from crm.core.audit import MASK, record_audit
from crm.core.models import AuditEntry
from crm.identity.models import Role
from crm.testing.factories import make_token, make_user

MIGRATION = importlib.import_module("crm.core.migrations.0003_audit_append_only")


def write_entries(n: int, **extra: Any) -> list[AuditEntry]:
    return [
        record_audit(actor=None, verb="change", object_type="test.thing", object_id=str(i), **extra) for i in range(n)
    ]


def lift_triggers() -> None:
    """What an attacker or a careless operator with DDL rights would do (rolled back with the test)."""
    with connection.cursor() as cursor:
        for sql in MIGRATION.statements(connection.vendor, forward=False):
            cursor.execute(sql)


def verify_output() -> tuple[bool, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit", "verify", stdout=out, stderr=err)
    except CommandError as exc:
        return False, err.getvalue() + str(exc)
    return True, out.getvalue()


# --- the chain ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_entries_record_who_when_where_and_chain() -> None:
    # given a request context
    user = make_user()
    ctx = context.RequestContext(request_id="req-1", ip="203.0.113.9", channel="api")
    # when two acts are recorded
    with context.bind(ctx):
        first = record_audit(actor=user, verb="create", object_type="test.thing", object_id="1")
        second = record_audit(actor=user, verb="delete", object_type="test.thing", object_id="1")
    # then they carry actor, UTC time, request id, IP and link to each other
    assert (first.actor_id, first.request_id, first.ip, first.channel) == (user.pk, "req-1", "203.0.113.9", "api")
    assert first.occurred_at.utcoffset() == timedelta(0)
    assert second.prev_hash == first.hash
    assert second.seq == first.seq + 1
    assert verify_output()[0]


@pytest.mark.django_db
def test_record_change_masks_personal_data() -> None:
    from crm.core import access
    from crm.customers.models import Customer

    saved = dict(access._registry)
    access.register(Customer, sensitive_fields=("email", "phone"))
    try:
        customer = Customer.objects.create(name="张三")
        entry = audit.record_change(
            actor=None,
            verb="change",
            obj=customer,
            before={"name": "张三", "phone": "", "email": "old@example.com"},
            after={"name": "张三丰", "phone": "+8613800138000", "email": "new@example.com"},
        )
    finally:
        access._registry.clear()
        access._registry.update(saved)
    assert entry.changes == {
        "name": {"before": "张三", "after": "张三丰"},
        "phone": {"before": "", "after": MASK},
        "email": {"before": MASK, "after": MASK},
    }
    assert "+8613800138000" not in str(AuditEntry.objects.values_list("changes", flat=True).get(pk=entry.pk))


@pytest.mark.django_db
def test_named_acts_have_clear_verbs() -> None:
    from crm.identity.models import Role as RoleModel

    role = RoleModel.objects.get(code="member")
    user = make_user()
    verbs = [
        audit.record_export(actor=user, model=AuditEntry, rows=3, fields=["seq"], file_format="csv").verb,
        audit.record_import(actor=user, model=AuditEntry, created=1, updated=2, failed=0).verb,
        audit.record_reveal(actor=user, obj=user, fields=["phone"], reason="call back").verb,
        audit.record_permission_change(actor=user, role=role, before={"x:view": "own"}, after={"x:view": "all"}).verb,
        audit.record_role_change(actor=user, user=user, before={"role": None}, after={"role": "member"}).verb,
    ]
    assert verbs == ["export", "import", "reveal", "permission.change", "role.change"]


# --- append-only in the database --------------------------------------------------------------------


def _refused(sql: str) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError as exc:
        return "append-only" in str(exc)
    return False


@pytest.mark.django_db
def test_database_refuses_update_delete_and_truncate() -> None:
    # given an audit row
    write_entries(1)
    # when anything tries to change or remove it with raw SQL, then the database refuses
    assert _refused("UPDATE core_auditentry SET verb = 'x'")
    assert _refused("DELETE FROM core_auditentry")
    if connection.vendor == "postgresql":
        assert _refused("TRUNCATE core_auditentry")
    assert AuditEntry.objects.count() == 1
    # and the ORM refuses before it gets there
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.update(verb="x")


@pytest.mark.django_db
def test_trigger_migration_is_reversible() -> None:
    # given the triggers are in place; when the migration's reverse runs, writes are possible again
    write_entries(1)
    lift_triggers()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET verb = 'changed'")
    # and running the forward SQL puts the protection back
    with connection.cursor() as cursor:
        for sql in MIGRATION.statements(connection.vendor, forward=True):
            cursor.execute(sql)
    assert _refused("UPDATE core_auditentry SET verb = 'again'")


# --- tamper detection ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_names_a_modified_row() -> None:
    entries = write_entries(5)
    lift_triggers()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET object_repr = 'innocent' WHERE seq = %s", [entries[2].seq])
    ok, output = verify_output()
    assert not ok
    assert f"#{entries[2].seq} (id {entries[2].pk})" in output
    assert "modified" in output


@pytest.mark.django_db
def test_verify_names_the_row_after_a_removed_one() -> None:
    entries = write_entries(5)
    lift_triggers()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE seq = %s", [entries[1].seq])
    ok, output = verify_output()
    assert not ok
    assert f"#{entries[2].seq}" in output


@pytest.mark.django_db
def test_verify_detects_reordered_rows() -> None:
    entries = write_entries(4)
    lift_triggers()
    a, b = entries[1], entries[2]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET seq = -1 WHERE id = %s", [a.pk])
        cursor.execute("UPDATE core_auditentry SET seq = %s WHERE id = %s", [a.seq, b.pk])
        cursor.execute("UPDATE core_auditentry SET seq = %s WHERE id = %s", [b.seq, a.pk])
    ok, output = verify_output()
    assert not ok
    assert f"#{a.seq} (id {b.pk})" in output


@pytest.mark.django_db
def test_verify_passes_on_an_intact_chain_and_says_how_many() -> None:
    write_entries(3)
    ok, output = verify_output()
    assert ok
    assert "intact" in output


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_the_chain_intact() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers with IMMEDIATE transactions; the lock under test is PostgreSQL's")
    # given two writers on separate connections
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(n):
                record_audit(actor=None, verb="change", object_type="test.concurrent", object_id=str(i))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(40,)) for _ in range(2)]
    # when they append at the same time
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every entry is there, numbered without gaps, and the chain verifies
    assert not errors
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(seqs[0], seqs[0] + 80))
    assert audit.first_break() is None


# --- page, export and API ---------------------------------------------------------------------------


@pytest.fixture
def member(db: Any) -> Any:
    return make_user(role=Role.objects.get(code="member"))


@pytest.fixture
def admin_role_user(db: Any) -> Any:
    return make_user(username="auditor", role=Role.objects.get(code="administrator"))


def test_api_lists_newest_first_with_cursor_pages(admin_role_user: Any, django_assert_max_num_queries: Any) -> None:
    write_entries(7, object_repr="thing")
    client = Client(headers={"Authorization": f"Bearer {make_token(admin_role_user)}"})
    # when read three at a time
    seen: list[int] = []
    url = "/api/v1/audit-log?object_type=test.thing&limit=3"
    cursor = ""
    while True:
        with django_assert_max_num_queries(8):
            response = client.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200
        page = response.json()
        seen += [row["seq"] for row in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # then every entry comes exactly once, newest first
    assert len(seen) == 7
    assert seen == sorted(seen, reverse=True)


def test_api_query_count_does_not_grow_with_page_size(admin_role_user: Any, django_assert_max_num_queries: Any) -> None:
    write_entries(60)
    client = Client(headers={"Authorization": f"Bearer {make_token(admin_role_user)}"})
    for limit in (1, 50):
        with django_assert_max_num_queries(8):
            assert client.get(f"/api/v1/audit-log?limit={limit}").status_code == 200


def test_api_filters(admin_role_user: Any) -> None:
    write_entries(2)
    record_audit(actor=admin_role_user, verb="export", object_type="customers.customer")
    client = Client(headers={"Authorization": f"Bearer {make_token(admin_role_user)}"})
    by_verb = client.get("/api/v1/audit-log?verb=export&object_type=customers.customer").json()["items"]
    assert [row["verb"] for row in by_verb] == ["export"]
    by_actor = client.get(f"/api/v1/audit-log?actor={admin_role_user.username}&verb=export").json()["items"]
    assert len(by_actor) == 1
    by_id = client.get("/api/v1/audit-log?object_type=test.thing&object_id=1").json()["items"]
    assert [row["object_id"] for row in by_id] == ["1"]
    today = timezone.localdate().isoformat()
    assert client.get(f"/api/v1/audit-log?date_from={today}&date_to={today}").json()["items"]
    assert not client.get("/api/v1/audit-log?date_from=2000-01-01&date_to=2000-01-02").json()["items"]
    bad = client.get("/api/v1/audit-log?date_from=yesterday")
    assert bad.status_code == 422
    assert bad["Content-Type"].startswith("application/problem+json")
    assert client.get("/api/v1/audit-log?cursor=%%%").status_code == 400


def test_api_is_read_only_and_for_administrators(member: Any, client: Client) -> None:
    write_entries(1)
    as_member = Client(headers={"Authorization": f"Bearer {make_token(member)}"})
    assert as_member.get("/api/v1/audit-log").status_code == 404
    assert as_member.get("/api/v1/audit-log/1").status_code == 404
    assert client.get("/api/v1/audit-log").status_code == 401
    admin = Client(headers={"Authorization": f"Bearer {make_token(make_user(superuser=True))}"})
    for method in ("post", "put", "patch", "delete"):
        assert getattr(admin, method)("/api/v1/audit-log").status_code == 405


def test_page_filters_and_refuses_non_administrators(admin_role_user: Any, member: Any) -> None:
    write_entries(3)
    browser = Client()
    browser.force_login(admin_role_user)
    response = browser.get("/audit/?object_type=test.thing&object_id=2")
    assert response.status_code == 200
    assert response.content.count(b"data-seq=") == 1
    assert browser.get("/audit/?date_from=not-a-date").status_code == 422
    partial = browser.get("/audit/?object_type=test.thing", headers={"HX-Request": "true"})
    assert b"<html" not in partial.content
    assert partial.content.count(b"data-seq=") == 3
    other = Client()
    other.force_login(member)
    assert other.get("/audit/").status_code == 404
    assert other.get("/audit/export.csv").status_code == 404
    assert Client().get("/audit/").status_code == 302


def test_export_is_audited_and_spreadsheet_safe(admin_role_user: Any) -> None:
    record_audit(actor=None, verb="change", object_type="test.thing", object_repr="=HYPERLINK(evil)")
    browser = Client()
    browser.force_login(admin_role_user)
    response = browser.get("/audit/export.csv?object_type=test.thing")
    body = b"".join(response.streaming_content).decode("utf-8")
    assert response.status_code == 200
    assert body.splitlines()[0].startswith("seq,occurred_at")
    assert "'=HYPERLINK(evil)" in body
    logged = AuditEntry.objects.filter(verb="export", object_type="core.auditentry").get()
    assert logged.actor_id == admin_role_user.pk
    assert logged.extra["filters"] == {"object_type": "test.thing"}
    assert logged.extra["rows"] == 1


def test_administration_page_links_the_audit_log_for_administrators_only(admin_role_user: Any, member: Any) -> None:
    write_entries(2)
    browser = Client()
    browser.force_login(admin_role_user)
    page = browser.get("/administration/")
    assert b'data-testid="audit-panel"' in page.content
    assert b"/audit/" in page.content
    other = Client()
    other.force_login(member)
    assert b'data-testid="audit-panel"' not in other.get("/administration/").content
