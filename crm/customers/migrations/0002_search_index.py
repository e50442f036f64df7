"""Substring search over customer name + company, Chinese included (see docs/customers.md).

SQLite: an external-content FTS5 table with the trigram tokenizer, kept in sync by triggers.
PostgreSQL: pg_trgm GIN index (3+ characters) and a GIN index over character bigrams (2 characters).
Both are maintained by the database itself, so every write path (services, bulk imports, merges) stays in sync.
"""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE customers_customer_search USING fts5("
    "name, company_name, content='customers_customer', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER customers_customer_search_ai AFTER INSERT ON customers_customer BEGIN "
    "INSERT INTO customers_customer_search(rowid, name, company_name) VALUES (new.id, new.name, new.company_name); END",
    "CREATE TRIGGER customers_customer_search_ad AFTER DELETE ON customers_customer BEGIN "
    "INSERT INTO customers_customer_search(customers_customer_search, rowid, name, company_name) "
    "VALUES ('delete', old.id, old.name, old.company_name); END",
    "CREATE TRIGGER customers_customer_search_au AFTER UPDATE OF name, company_name ON customers_customer BEGIN "
    "INSERT INTO customers_customer_search(customers_customer_search, rowid, name, company_name) "
    "VALUES ('delete', old.id, old.name, old.company_name); "
    "INSERT INTO customers_customer_search(rowid, name, company_name) VALUES (new.id, new.name, new.company_name); END",
    "INSERT INTO customers_customer_search(customers_customer_search) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS customers_customer_search_au",
    "DROP TRIGGER IF EXISTS customers_customer_search_ad",
    "DROP TRIGGER IF EXISTS customers_customer_search_ai",
    "DROP TABLE IF EXISTS customers_customer_search",
]
PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Distinct lower-cased 2-character substrings of a text: lets GIN answer 2-character queries.
    "CREATE OR REPLACE FUNCTION crm_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS "
    "$$ SELECT coalesce(array_agg(DISTINCT substr(lower(t), i, 2)), '{}'::text[]) "
    "FROM generate_series(1, char_length(t) - 1) AS i $$",
    "CREATE INDEX customer_search_trgm_idx ON customers_customer "
    "USING gin ((lower(name || ' ' || company_name)) gin_trgm_ops)",
    "CREATE INDEX customer_search_bigram_idx ON customers_customer USING gin (crm_bigrams(name || ' ' || company_name))",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS customer_search_bigram_idx",
    "DROP INDEX IF EXISTS customer_search_trgm_idx",
    "DROP FUNCTION IF EXISTS crm_bigrams(text)",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD}),
        )
    ]
