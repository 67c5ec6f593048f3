"""One customer's plan assignments never overlap, enforced by the database.

PostgreSQL: an exclusion constraint over the half-open time range, with
btree_gist for the customer equality. SQLite has no exclusion constraints, so
two triggers refuse an overlapping insert or update with a constraint error
(which Django raises as IntegrityError). Both use the name
customers_planassignment_no_overlap.
"""

from __future__ import annotations

from django.db import migrations

NAME = "customers_planassignment_no_overlap"

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    f"""ALTER TABLE customers_planassignment ADD CONSTRAINT {NAME}
        EXCLUDE USING gist (customer_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&)""",
]
POSTGRES_BACKWARD = [f"ALTER TABLE customers_planassignment DROP CONSTRAINT {NAME}"]

# end_at NULL means open-ended; '9999-12-31 23:59:59' sorts after every stored timestamp text.
SQLITE_OVERLAP = """
    SELECT RAISE(ABORT, 'CHECK constraint failed: {name}')
    WHERE EXISTS (
        SELECT 1 FROM customers_planassignment AS other
        WHERE other.customer_id = NEW.customer_id
          AND other.id IS NOT NEW.id
          AND other.start_at < COALESCE(NEW.end_at, '9999-12-31 23:59:59')
          AND NEW.start_at < COALESCE(other.end_at, '9999-12-31 23:59:59')
    );
"""
SQLITE_FORWARD = [
    f"""CREATE TRIGGER {NAME}_insert BEFORE INSERT ON customers_planassignment
        BEGIN {SQLITE_OVERLAP.format(name=NAME)} END""",
    f"""CREATE TRIGGER {NAME}_update BEFORE UPDATE ON customers_planassignment
        BEGIN {SQLITE_OVERLAP.format(name=NAME)} END""",
]
SQLITE_BACKWARD = [f"DROP TRIGGER {NAME}_insert", f"DROP TRIGGER {NAME}_update"]


def _run(statements_by_vendor: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
