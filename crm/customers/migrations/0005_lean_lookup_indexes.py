"""Lookup indexes without the dead weight every import row paid for (docs/import-export.md, "Performance").

* Blind indexes, external ids and order numbers are only compared for equality, but `db_index=True` /
  `unique=True` on a CharField also give PostgreSQL a `varchar_pattern_ops` index per column: dropped.
* The foreign-key indexes on customers.owner_id and orders.customer_id duplicate the leading column of
  customer_owner_updated_idx and order_customer_time_idx: dropped.
* id_number_bidx and merged_into_id are empty for almost every customer: partial indexes.

The database side is written out per vendor: on PostgreSQL the kept indexes and unique constraints are
renamed rather than rebuilt (no long lock on 10M orders) and the foreign keys are not dropped and
re-validated; on SQLite no table is remade (a remake would drop the search triggers of 0002).
"""

from django.conf import settings
from django.db import migrations, models

# (table, column, new index name, partial-index condition or "")
_RENAMED = [
    ("customers_customer", "email_bidx", "customer_email_bidx_idx", ""),
    ("customers_customer", "phone_bidx", "customer_phone_bidx_idx", ""),
    ("customers_customer", "id_number_bidx", "customer_id_number_bidx_idx", "NOT (\"id_number_bidx\" = '')"),
    ("customers_customer", "merged_into_id", "customer_merged_into_idx", '"merged_into_id" IS NOT NULL'),
    ("customers_contact", "email_bidx", "contact_email_bidx_idx", ""),
    ("customers_contact", "phone_bidx", "contact_phone_bidx_idx", ""),
    ("customers_customerchannel", "value_bidx", "channel_value_bidx_idx", ""),
]
# (table, column) whose own index duplicates the leading column of a composite index.
_DROPPED = [("customers_customer", "owner_id"), ("customers_order", "customer_id")]
# (table, column, new unique constraint name)
_UNIQUE = [
    ("customers_customer", "external_id", "customer_external_id_uniq"),
    ("customers_contact", "external_id", "contact_external_id_uniq"),
    ("customers_order", "number", "order_number_uniq"),
    ("customers_order", "external_id", "order_external_id_uniq"),
]


def _indexes_on(schema_editor, table, column, *, unique):
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in constraints.items()
        if info["columns"] == [column]
        and not info["primary_key"]
        and not info.get("foreign_key")
        and bool(info["unique"]) == unique
        and (info["index"] or unique)
    ]


def forwards(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    run = schema_editor.execute
    for table, column, new, condition in _RENAMED:
        old = _indexes_on(schema_editor, table, column, unique=False)
        for name in [n for n in old if n.endswith("_like")]:
            run(f'DROP INDEX "{name}"')
        plain = [n for n in old if not n.endswith("_like")]
        if postgres and plain and not condition:
            run(f'ALTER INDEX "{plain[0]}" RENAME TO "{new}"')
            continue
        for name in plain:
            run(f'DROP INDEX "{name}"')
        where = f" WHERE {condition}" if condition else ""
        run(f'CREATE INDEX "{new}" ON "{table}" ("{column}"){where}')
    for table, column in _DROPPED:
        for name in _indexes_on(schema_editor, table, column, unique=False):
            run(f'DROP INDEX "{name}"')
    for table, column, new in _UNIQUE:
        if postgres:
            for name in _indexes_on(schema_editor, table, column, unique=False):
                if name.endswith("_like"):
                    run(f'DROP INDEX "{name}"')
            old = _indexes_on(schema_editor, table, column, unique=True)
            run(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{old[0]}" TO "{new}"')
        else:
            # SQLite keeps the column's inline UNIQUE (dropping it means remaking the table); the named
            # index is what later migrations refer to.
            run(f'CREATE UNIQUE INDEX "{new}" ON "{table}" ("{column}")')


def backwards(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    run = schema_editor.execute
    for table, column, new in _UNIQUE:
        if postgres:
            run(f'ALTER TABLE "{table}" RENAME CONSTRAINT "{new}" TO "{table}_{column}_key"')
            like = schema_editor._create_index_name(table, [column], suffix="_like")
            run(f'CREATE INDEX "{like}" ON "{table}" ("{column}" varchar_pattern_ops)')
        else:
            run(f'DROP INDEX "{new}"')
    for table, column in _DROPPED:
        run(f'CREATE INDEX "{schema_editor._create_index_name(table, [column])}" ON "{table}" ("{column}")')
    for table, column, new, _condition in _RENAMED:
        run(f'DROP INDEX "{new}"')
        run(f'CREATE INDEX "{schema_editor._create_index_name(table, [column])}" ON "{table}" ("{column}")')
        if postgres and column.endswith("_bidx"):
            like = schema_editor._create_index_name(table, [column], suffix="_like")
            run(f'CREATE INDEX "{like}" ON "{table}" ("{column}" varchar_pattern_ops)')


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_stage_place_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="customer",
                    name="merged_into",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.SET_NULL,
                        related_name="merged_from",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.SET_NULL,
                        related_name="owned_customers",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="customer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.PROTECT,
                        related_name="orders",
                        to="customers.customer",
                    ),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="email_bidx",
                    field=models.CharField(blank=True, default="", max_length=40),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="external_id",
                    field=models.CharField(blank=True, max_length=100, null=True),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="phone_bidx",
                    field=models.CharField(blank=True, default="", max_length=40),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="email_bidx",
                    field=models.CharField(blank=True, default="", max_length=40),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="external_id",
                    field=models.CharField(blank=True, max_length=100, null=True, verbose_name="external id"),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="id_number_bidx",
                    field=models.CharField(blank=True, default="", max_length=40),
                ),
                migrations.AlterField(
                    model_name="customer",
                    name="phone_bidx",
                    field=models.CharField(blank=True, default="", max_length=40),
                ),
                migrations.AlterField(
                    model_name="customerchannel",
                    name="value_bidx",
                    field=models.CharField(blank=True, default="", max_length=40),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="external_id",
                    field=models.CharField(blank=True, max_length=100, null=True),
                ),
                migrations.AlterField(
                    model_name="order",
                    name="number",
                    field=models.CharField(max_length=64, verbose_name="order number"),
                ),
                migrations.AddIndex(
                    model_name="contact",
                    index=models.Index(fields=["email_bidx"], name="contact_email_bidx_idx"),
                ),
                migrations.AddIndex(
                    model_name="contact",
                    index=models.Index(fields=["phone_bidx"], name="contact_phone_bidx_idx"),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(fields=["email_bidx"], name="customer_email_bidx_idx"),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(fields=["phone_bidx"], name="customer_phone_bidx_idx"),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(
                        condition=models.Q(("id_number_bidx", ""), _negated=True),
                        fields=["id_number_bidx"],
                        name="customer_id_number_bidx_idx",
                    ),
                ),
                migrations.AddIndex(
                    model_name="customer",
                    index=models.Index(
                        condition=models.Q(("merged_into__isnull", False)),
                        fields=["merged_into"],
                        name="customer_merged_into_idx",
                    ),
                ),
                migrations.AddIndex(
                    model_name="customerchannel",
                    index=models.Index(fields=["value_bidx"], name="channel_value_bidx_idx"),
                ),
                migrations.AddConstraint(
                    model_name="contact",
                    constraint=models.UniqueConstraint(fields=("external_id",), name="contact_external_id_uniq"),
                ),
                migrations.AddConstraint(
                    model_name="customer",
                    constraint=models.UniqueConstraint(fields=("external_id",), name="customer_external_id_uniq"),
                ),
                migrations.AddConstraint(
                    model_name="order",
                    constraint=models.UniqueConstraint(fields=("number",), name="order_number_uniq"),
                ),
                migrations.AddConstraint(
                    model_name="order",
                    constraint=models.UniqueConstraint(fields=("external_id",), name="order_external_id_uniq"),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
