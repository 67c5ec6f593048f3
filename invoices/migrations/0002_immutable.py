"""What is issued never changes, enforced by the database on both engines.

- invoices_invoice: a finalized invoice (status other than draft) keeps every
  column, except that its status may move open → paid | void | uncollectible
  and uncollectible → paid | void, with the lifecycle columns set in the same
  update; paid and void invoices do not change at all; a draft may only
  become open. A finalized invoice is never deleted.
- invoices_invoiceline: added only to a draft (at finalization, in the same
  transaction that makes it open); never updated or deleted.
- status changes, stored PDFs, credit notes and their lines: never updated or
  deleted.

A refusal is an integrity error (SQLSTATE 23000 on PostgreSQL, a constraint
abort on SQLite) naming the rule. `manage.py flush` (which empties the whole
database on purpose) may still erase them: on PostgreSQL it truncates, which
fires no row trigger; on SQLite the delete triggers ask the
`tally_erase_allowed()` function, which Tally's own `flush` command turns on
(invoices/immutability.py). A bare sqlite3 shell has no such function, so its
deletes are refused too.

The counter rows of the gapless numbers are created here.
"""

from __future__ import annotations

from django.db import migrations

LIFECYCLE = ["status", "paid_at", "payment_reference", "voided_at", "void_reason", "uncollectible_at"]
FROZEN = [
    "customer_id", "assignment_id", "plan_id", "period_start", "period_end", "on_hold",
    "currency", "number", "sequence", "usage_end", "usage_cutoff", "issue_date", "due_date",
    "net_terms_days", "customer_name", "customer_external_id", "customer_email",
    "customer_address", "seller_name", "seller_address", "plan_name", "billing_period", "total",
    "finalized_at", "created_at", "id",
]  # fmt: skip
APPEND_ONLY = [
    "invoices_invoicestatuschange",
    "invoices_invoicedocument",
    "invoices_creditnote",
    "invoices_creditnoteline",
    "invoices_creditnotedocument",
]
ALLOWED = "(OLD.status = 'open' AND NEW.status IN ('paid', 'void', 'uncollectible')) OR (OLD.status = 'uncollectible' AND NEW.status IN ('paid', 'void'))"
MESSAGE = "invoices_invoice_immutable: a finalized invoice cannot be changed or deleted"
LINE_MESSAGE = "invoices_invoiceline_immutable: invoice lines are written once, at finalization"

# PostgreSQL ------------------------------------------------------------------
_lifecycle = "ARRAY[" + ", ".join(f"'{c}'" for c in LIFECYCLE) + "]"
POSTGRES_FORWARD = [
    f"""CREATE FUNCTION invoices_invoice_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.status <> 'draft' THEN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = '23000';
            END IF;
            RETURN OLD;
        END IF;
        IF OLD.status = 'draft' THEN
            IF NEW.status NOT IN ('draft', 'open') THEN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = '23000';
            END IF;
            RETURN NEW;
        END IF;
        IF (to_jsonb(NEW) - {_lifecycle}) IS DISTINCT FROM (to_jsonb(OLD) - {_lifecycle})
           OR (NEW.status = OLD.status AND to_jsonb(NEW) IS DISTINCT FROM to_jsonb(OLD))
           OR (NEW.status <> OLD.status AND NOT ({ALLOWED})) THEN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = '23000';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER invoices_invoice_immutable BEFORE UPDATE OR DELETE ON invoices_invoice
        FOR EACH ROW EXECUTE FUNCTION invoices_invoice_immutable()""",
    f"""CREATE FUNCTION invoices_invoiceline_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF (SELECT status FROM invoices_invoice WHERE id = NEW.invoice_id) = 'draft' THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION '{LINE_MESSAGE}' USING ERRCODE = '23000';
    END $$""",
    """CREATE TRIGGER invoices_invoiceline_immutable BEFORE INSERT OR UPDATE OR DELETE
        ON invoices_invoiceline FOR EACH ROW EXECUTE FUNCTION invoices_invoiceline_immutable()""",
    """CREATE FUNCTION invoices_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '%_append_only: written once, never changed or deleted', TG_TABLE_NAME
            USING ERRCODE = '23000';
    END $$""",
    *[
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION invoices_append_only()"""
        for table in APPEND_ONLY
    ],
]
POSTGRES_BACKWARD = [
    *[f"DROP TRIGGER {table}_append_only ON {table}" for table in APPEND_ONLY],
    "DROP FUNCTION invoices_append_only()",
    "DROP TRIGGER invoices_invoiceline_immutable ON invoices_invoiceline",
    "DROP FUNCTION invoices_invoiceline_immutable()",
    "DROP TRIGGER invoices_invoice_immutable ON invoices_invoice",
    "DROP FUNCTION invoices_invoice_immutable()",
]

# SQLite ----------------------------------------------------------------------
_frozen_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
_lifecycle_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in LIFECYCLE)
_ERASE = "tally_erase_allowed() = 0"
SQLITE_FORWARD = [
    f"""CREATE TRIGGER invoices_invoice_immutable_update BEFORE UPDATE ON invoices_invoice
        WHEN (OLD.status = 'draft' AND NEW.status NOT IN ('draft', 'open'))
          OR (OLD.status <> 'draft' AND (
                {_frozen_changed}
                OR (NEW.status = OLD.status AND ({_lifecycle_changed}))
                OR (NEW.status <> OLD.status AND NOT ({ALLOWED}))))
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoices_invoice_immutable_delete BEFORE DELETE ON invoices_invoice
        WHEN OLD.status <> 'draft' AND {_ERASE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER invoices_invoiceline_immutable_insert BEFORE INSERT ON invoices_invoiceline
        WHEN (SELECT status FROM invoices_invoice WHERE id = NEW.invoice_id) IS NOT 'draft'
        BEGIN SELECT RAISE(ABORT, '{LINE_MESSAGE}'); END""",
    f"""CREATE TRIGGER invoices_invoiceline_immutable_update BEFORE UPDATE ON invoices_invoiceline
        BEGIN SELECT RAISE(ABORT, '{LINE_MESSAGE}'); END""",
    f"""CREATE TRIGGER invoices_invoiceline_immutable_delete BEFORE DELETE ON invoices_invoiceline
        WHEN {_ERASE}
        BEGIN SELECT RAISE(ABORT, '{LINE_MESSAGE}'); END""",
    *[
        statement
        for table in APPEND_ONLY
        for statement in (
            f"""CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table}_append_only: written once, never changed'); END""",
            f"""CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON {table}
                WHEN {_ERASE}
                BEGIN SELECT RAISE(ABORT, '{table}_append_only: written once, never deleted'); END""",
        )
    ],
]
SQLITE_BACKWARD = [
    *[
        f"DROP TRIGGER {table}_append_only_{op}"
        for table in APPEND_ONLY
        for op in ("update", "delete")
    ],
    "DROP TRIGGER invoices_invoiceline_immutable_delete",
    "DROP TRIGGER invoices_invoiceline_immutable_update",
    "DROP TRIGGER invoices_invoiceline_immutable_insert",
    "DROP TRIGGER invoices_invoice_immutable_delete",
    "DROP TRIGGER invoices_invoice_immutable_update",
]


def _run(statements_by_vendor: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


def counters(apps, schema_editor):  # type: ignore[no-untyped-def]
    sequence = apps.get_model("invoices", "NumberSequence")
    for name in ("invoice", "credit_note"):
        sequence.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("invoices", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
        migrations.RunPython(counters, migrations.RunPython.noop),
    ]
