"""Custom-field values on orders (`Order.custom`), like customers, contacts and needs have.

PostgreSQL: `ADD COLUMN "custom" jsonb DEFAULT '{}'::jsonb NOT NULL` — a constant default, so since
PostgreSQL 11 the column is added to the catalogue only, without rewriting the 10M-row table or holding
its lock for more than a moment. The default stays in the database (`db_default`), so raw inserts that
name no custom column (demo data, benches) keep working. On SQLite Django's schema editor copies the
table once (it adds a column with a default only by remaking the table; no triggers live on orders).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0007_ordered_search_terms"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="custom",
            field=models.JSONField(blank=True, db_default={}, default=dict, verbose_name="custom fields"),
        ),
    ]
