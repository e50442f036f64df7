"""Customer search on PostgreSQL: an ordered table of character bigrams replaces the two GIN indexes.

GIN answers "which customers contain 张三" but not in `updated_at` order, so a common name (thousands
of matches) was fetched row by row from the wide customers heap and sorted. The table
`customers_customersearchterm` holds one row per distinct lower-cased 2-character piece (no
whitespace) of `name || ' ' || company_name`, with the customer's `updated_at`; its primary key
(bigram, updated_at, customer_id) returns the matches of a piece newest first, so a search stops
after the first page (docs/customers.md, "Search").

Statement-level triggers with transition tables keep it in sync for every write path: one set-based
statement per INSERT/UPDATE/DELETE/COPY, not one call per row. They are `ENABLE ALWAYS` so bulk loads
that run with `session_replication_role = replica` (the demo generator) are covered too.
The table is derived data like an index, so it is filled here, in the migration that creates it.
SQLite keeps its FTS5 trigram table (migration 0002); the model is unmanaged and exists only here.
"""

from django.db import migrations, models

TABLE = "customers_customersearchterm"

# The distinct lower-cased 2-character pieces of a text, without spaces (search terms never contain
# one). A piece is kept at its first position only (no earlier occurrence within the text so far),
# which dedupes without an aggregate or a sort per customer. Not STRICT, so the planner inlines it.
PIECES_SQL = """
CREATE OR REPLACE FUNCTION crm_search_pieces(t text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p FROM (
    SELECT substr(l, i, 2) AS p, substr(l, 1, i) AS head
    FROM lower(t) AS l, generate_series(1, char_length(l) - 1) AS i
  ) AS s
  WHERE strpos(p, ' ') = 0 AND strpos(head, p) = 0
$$
"""


# The search rows of a set of customer rows. Sorted by the key, so a large batch (an import's COPY)
# fills each index page in one pass.
def _terms(rows: str, alias: str, where: str = "") -> str:
    return (  # SQL from this module's constants only
        f'SELECT p COLLATE "C", {alias}.updated_at, {alias}.id '  # noqa: S608
        f"FROM {rows} AS {alias}, crm_search_pieces({alias}.name || ' ' || {alias}.company_name) AS p "
        f"WHERE {alias}.is_active {where}"
    )


def _insert(rows: str, alias: str, where: str = "") -> str:
    return f"INSERT INTO {TABLE} (bigram, updated_at, customer_id) {_terms(rows, alias, where)} ORDER BY 1, 2, 3"


def _delete(rows: str, alias: str, where: str = "") -> str:
    return (  # SQL from this module's constants only
        f"DELETE FROM {TABLE} AS t USING ({_terms(rows, alias, where)}) AS k (bigram, updated_at, id) "  # noqa: S608
        "WHERE t.bigram = k.bigram AND t.updated_at = k.updated_at AND t.customer_id = k.id"
    )


# An UPDATE rewrites only the rows whose name, company, updated_at or activity changed.
_UNCHANGED = (
    "AND NOT EXISTS (SELECT 1 FROM {other} AS x WHERE x.id = {alias}.id "
    "AND (x.name, x.company_name, x.updated_at, x.is_active) "
    "IS NOT DISTINCT FROM ({alias}.name, {alias}.company_name, {alias}.updated_at, {alias}.is_active))"
)


def _trigger_function(name: str, *statements: str) -> str:
    # JIT off: a COPY's transition table makes the estimated cost large enough to compile each
    # statement (~0.2 s per call), which costs more than it saves on these simple scans. work_mem:
    # a 100k-row COPY sorts ~700k terms, in memory rather than through temporary files.
    body = ";\n".join(statements)
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' AS $$\n"
        f"BEGIN\n{body};\nRETURN NULL;\nEND $$"
    )


FORWARD = [
    PIECES_SQL,
    f"""
    CREATE TABLE {TABLE} (
        bigram text COLLATE "C" NOT NULL,
        updated_at timestamptz NOT NULL,
        customer_id bigint NOT NULL,
        PRIMARY KEY (bigram, updated_at, customer_id)
    )
    """,
    # The planner's estimate of one piece's row count decides between walking the key in order and
    # fetching every match; a long most-common-values list keeps it right for common names.
    f"ALTER TABLE {TABLE} ALTER COLUMN bigram SET STATISTICS 1000",
    _trigger_function("crm_customer_search_insert", _insert("new_rows", "n")),
    _trigger_function("crm_customer_search_delete", _delete("old_rows", "o")),
    _trigger_function(
        "crm_customer_search_update",
        _delete("old_rows", "o", _UNCHANGED.format(other="new_rows", alias="o")),
        _insert("new_rows", "n", _UNCHANGED.format(other="old_rows", alias="n")),
    ),
    _trigger_function("crm_customer_search_truncate", f"TRUNCATE {TABLE}"),
    # Rebuilds the table from the customers table (after a load with these triggers disabled, or a
    # restore of a dump taken without the table). Blocks customer writes meanwhile.
    f"""
    CREATE FUNCTION crm_customer_search_rebuild() RETURNS bigint LANGUAGE plpgsql
    SET jit = off SET work_mem = '128MB' AS $$
    DECLARE written bigint;
    BEGIN
        LOCK TABLE customers_customer IN SHARE MODE;
        TRUNCATE {TABLE};
        {_insert("customers_customer", "c")};
        GET DIAGNOSTICS written = ROW_COUNT;
        RETURN written;
    END $$
    """,
    "CREATE TRIGGER customer_search_insert AFTER INSERT ON customers_customer "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_customer_search_insert()",
    "CREATE TRIGGER customer_search_update AFTER UPDATE ON customers_customer "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION crm_customer_search_update()",
    "CREATE TRIGGER customer_search_delete AFTER DELETE ON customers_customer "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_customer_search_delete()",
    "CREATE TRIGGER customer_search_truncate AFTER TRUNCATE ON customers_customer "
    "FOR EACH STATEMENT EXECUTE FUNCTION crm_customer_search_truncate()",
    "ALTER TABLE customers_customer ENABLE ALWAYS TRIGGER customer_search_insert",
    "ALTER TABLE customers_customer ENABLE ALWAYS TRIGGER customer_search_update",
    "ALTER TABLE customers_customer ENABLE ALWAYS TRIGGER customer_search_delete",
    "ALTER TABLE customers_customer ENABLE ALWAYS TRIGGER customer_search_truncate",
    "SELECT crm_customer_search_rebuild()",
    f"ANALYZE {TABLE}",
    # Replaced by the table above (the pg_trgm extension stays: other code may use it).
    "DROP INDEX IF EXISTS customer_search_bigram_idx",
    "DROP INDEX IF EXISTS customer_search_trgm_idx",
    "DROP FUNCTION IF EXISTS crm_bigrams(text)",
]

BACKWARD = [
    "CREATE OR REPLACE FUNCTION crm_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS "
    "$$ SELECT coalesce(array_agg(DISTINCT substr(lower(t), i, 2)), '{}'::text[]) "
    "FROM generate_series(1, char_length(t) - 1) AS i $$",
    "CREATE INDEX IF NOT EXISTS customer_search_trgm_idx ON customers_customer "
    "USING gin ((lower(name || ' ' || company_name)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS customer_search_bigram_idx ON customers_customer "
    "USING gin (crm_bigrams(name || ' ' || company_name))",
    "DROP TRIGGER IF EXISTS customer_search_truncate ON customers_customer",
    "DROP TRIGGER IF EXISTS customer_search_delete ON customers_customer",
    "DROP TRIGGER IF EXISTS customer_search_update ON customers_customer",
    "DROP TRIGGER IF EXISTS customer_search_insert ON customers_customer",
    "DROP FUNCTION IF EXISTS crm_customer_search_rebuild()",
    "DROP FUNCTION IF EXISTS crm_customer_search_truncate()",
    "DROP FUNCTION IF EXISTS crm_customer_search_update()",
    "DROP FUNCTION IF EXISTS crm_customer_search_delete()",
    "DROP FUNCTION IF EXISTS crm_customer_search_insert()",
    f"DROP TABLE IF EXISTS {TABLE}",
    "DROP FUNCTION IF EXISTS crm_search_pieces(text)",
]


def _postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_score_lean_indexes")]

    operations = [
        migrations.CreateModel(
            name="CustomerSearchTerm",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "bigram",
                        "updated_at",
                        "customer",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("bigram", models.CharField(max_length=2)),
                ("updated_at", models.DateTimeField()),
            ],
            options={"db_table": TABLE, "managed": False},
        ),
        migrations.RunPython(_postgresql(FORWARD), _postgresql(BACKWARD)),
    ]
