"""The audit table refuses UPDATE, DELETE and TRUNCATE in the database itself (SQLite and PostgreSQL).

The application never changes audit rows (AppendOnlyModel); these triggers stop anything else that
connects to the database too — a bug, a script, a hand edit — unless an operator drops them on purpose.
"""

from django.db import migrations

MESSAGE = "core_auditentry is append-only"

SQLITE_FORWARD = [
    f"CREATE TRIGGER core_auditentry_no_update BEFORE UPDATE ON core_auditentry "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
    f"CREATE TRIGGER core_auditentry_no_delete BEFORE DELETE ON core_auditentry "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_update;",
    "DROP TRIGGER IF EXISTS core_auditentry_no_delete;",
]

POSTGRES_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION core_auditentry_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- TRUNCATE holds an exclusive lock before this runs, so "empty" cannot change meanwhile;
            -- emptying an empty table is harmless (and is how test databases are reset).
            IF TG_OP = 'TRUNCATE' AND NOT EXISTS (SELECT 1 FROM core_auditentry) THEN
                RETURN NULL;
            END IF;
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
        END;
        $$;""",  # noqa: S608 - constant text, no input
    "CREATE TRIGGER core_auditentry_no_change BEFORE UPDATE OR DELETE ON core_auditentry "
    "FOR EACH ROW EXECUTE FUNCTION core_auditentry_append_only();",
    "CREATE TRIGGER core_auditentry_no_truncate BEFORE TRUNCATE ON core_auditentry "
    "FOR EACH STATEMENT EXECUTE FUNCTION core_auditentry_append_only();",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS core_auditentry_no_truncate ON core_auditentry;",
    "DROP TRIGGER IF EXISTS core_auditentry_no_change ON core_auditentry;",
    "DROP FUNCTION IF EXISTS core_auditentry_append_only();",
]


def statements(vendor: str, *, forward: bool) -> list[str]:
    if vendor == "sqlite":
        return SQLITE_FORWARD if forward else SQLITE_REVERSE
    if vendor == "postgresql":
        return POSTGRES_FORWARD if forward else POSTGRES_REVERSE
    return []


def install(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor, forward=True):
        schema_editor.execute(sql)


def uninstall(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor, forward=False):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_custom_fields")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
