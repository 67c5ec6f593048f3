"""The margin report at scale, on PostgreSQL.

It stores 1,000 customers (--customers) × 3 months (--months) of issued
invoices with costs, six lines each (the guide's API calls and tokens of
models a, b and c, input and output): a realistic mix of costed lines,
lines costing more than they earn, and lines with no cost known. Rows are
inserted in bulk as drafts (the only time lines may be written) and then
issued by one UPDATE, draft -> open, as finalization would leave them: the
report reads stored lines only, so nothing needs pricing.

Timed, best of --repeat runs: `invoices.margin_report.margin_report` for
each grouping (one values() query, then the pure aggregation in Python),
beside the least work any implementation must do, measured in the same run:
one raw SQL GROUP BY over the same lines (customer, currency; sums of the
costed lines' revenue and cost, and of the others' revenue), and one raw
GROUP BY over the usage events those lines stand for (customer, meter,
month), which the issue names as the baseline.

PostgreSQL only (DATABASE_URL, whose database name must contain "bench": it
is dropped and created again); on SQLite it says so and exits.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (section, dimensions, revenue, cost, unknown quantity) of each invoice's lines.
LINES: tuple[tuple[str, list[list[str]], str, str | None, str | None], ...] = (
    ("API calls", [], "12.40", "1.24", None),
    ("LLM tokens", [["model", "model a"], ["type", "input"]], "30.00", "18.00", None),
    ("LLM tokens", [["model", "model a"], ["type", "output"]], "20.00", "26.50", None),  # loss
    ("LLM tokens", [["model", "model b"], ["type", "input"]], "9.00", "3.00", None),
    ("LLM tokens", [["model", "model b"], ["type", "output"]], "7.00", "0.00", "1200"),  # unknown
    ("LLM tokens", [["model", "model c"], ["type", "input"]], "5.00", None, None),  # pre-costs
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/tally_bench "
        ".venv/bin/python bench/margin_report.py",
    )
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5, help="best of N (default 5)")
    return parser.parse_args()


def configure() -> bool:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print(
            "bench/margin_report.py: skipped, it measures the margin report on PostgreSQL. "
            "Run it with DATABASE_URL=postgres://postgres@127.0.0.1:5432/tally_bench."
        )
        return False
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    if "bench" not in name:
        sys.exit(f"bench/margin_report.py recreates its database; refusing {name!r}.")
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_site.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "tally-bench-only-not-a-secret")
    import psycopg
    from psycopg import sql

    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def months_back(count: int) -> list[datetime]:
    """The first instants (UTC) of the `count` months before this one."""
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = []
    for _ in range(count):
        first = (first - timedelta(days=1)).replace(day=1)
        starts.append(first)
    return sorted(starts)


def seed(customers: int, months: int) -> int:
    """Issued invoices with their lines; returns the number of lines."""
    from django.db import connection, transaction

    from customers.models import Customer, PlanAssignment
    from invoices.demo import API_CALLS, LLM_TOKENS
    from invoices.models import Invoice, InvoiceLine
    from meters.models import UsageEvent
    from meters.services import meter_create
    from pricing.services import plan_create

    meters = {
        spec.label: meter_create(
            label=spec.label, api_name=spec.api_name, meter_type="count", dimensions=spec.dimensions
        )
        for spec in (API_CALLS, LLM_TOKENS)
    }
    plan = plan_create(name="Bench plan", billing_period="monthly", currency="USD")
    starts = months_back(months)
    end = (starts[-1] + timedelta(days=32)).replace(day=1)
    with transaction.atomic():
        made = Customer.objects.bulk_create(
            [
                Customer(name=f"Bench customer {n:05d}", customer_id=f"bench-customer-{n:05d}")
                for n in range(1, customers + 1)
            ],
            batch_size=2_000,
        )
        assignments = PlanAssignment.objects.bulk_create(
            [PlanAssignment(customer=c, plan=plan, start_at=starts[0], end_at=end) for c in made],
            batch_size=2_000,
        )
        invoices = Invoice.objects.bulk_create(
            [
                Invoice(
                    customer=a.customer,
                    assignment=a,
                    plan=plan,
                    period_start=start,
                    period_end=(start + timedelta(days=32)).replace(day=1),
                    currency="USD",
                    customer_name=a.customer.name,
                    customer_external_id=a.customer.customer_id,
                    plan_name=plan.name,
                )
                for a in assignments
                for start in starts
            ],
            batch_size=2_000,
        )
        lines = [
            InvoiceLine(
                invoice=invoice,
                position=n,
                kind="usage",
                meter=meters[section],
                section=section,
                dimensions=dims,
                description=section,
                quantity=Decimal(1000),
                exact_amount=Decimal(revenue),
                amount=Decimal(revenue),
                cost=None if cost is None else Decimal(cost),
                cost_unknown_quantity=None if unknown is None else Decimal(unknown),
            )
            for invoice in invoices
            for n, (section, dims, revenue, cost, unknown) in enumerate(LINES)
        ]
        InvoiceLine.objects.bulk_create(lines, batch_size=5_000)
        # The usage events those lines stand for: EVENTS_PER_LINE per line,
        # inside its invoice's period.
        UsageEvent.objects.bulk_create(
            (
                UsageEvent(
                    meter=meters[section],
                    customer_id=invoice.customer.customer_id,
                    value=Decimal(1000 // EVENTS_PER_LINE),
                    event_time=invoice.period_start + timedelta(hours=1 + k),
                    dimensions=dict(dims),
                    dimension_key="&".join(f"{k_}={v}" for k_, v in sorted(dims)),
                    unique_id=f"bench-{invoice.pk}-{n}-{k}",
                )
                for invoice in invoices
                for n, (section, dims, _, _, _) in enumerate(LINES)
                for k in range(EVENTS_PER_LINE)
            ),
            batch_size=5_000,
        )
        total = sum(Decimal(line[2]) for line in LINES)
        today = date.today()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE invoices_invoice SET status = 'open', number = 'BENCH-' || id, "
                "sequence = id, total = %s, issue_date = %s, due_date = %s, finalized_at = %s, "
                "usage_end = period_end WHERE status = 'draft'",
                [total, today, today, datetime.now(UTC)],
            )
    with connection.cursor() as cursor_analyze:
        cursor_analyze.execute("ANALYZE invoices_invoice")
        cursor_analyze.execute("ANALYZE invoices_invoiceline")
        cursor_analyze.execute("ANALYZE meters_usageevent")
    return len(lines)


EVENTS_PER_LINE = 10
# The same usage as events, grouped the least a usage report could: per
# customer, meter and month (what the invoices' lines were priced from).
EVENTS_SQL = """
SELECT customer_id, meter_id, date_trunc('month', event_time), SUM(value)
FROM meters_usageevent
GROUP BY 1, 2, 3
"""

BASELINE_SQL = """
SELECT i.customer_external_id, i.currency,
       SUM(l.amount) FILTER (WHERE l.cost IS NOT NULL AND l.cost_unknown_quantity IS NULL),
       SUM(l.cost) FILTER (WHERE l.cost IS NOT NULL AND l.cost_unknown_quantity IS NULL),
       SUM(l.amount) FILTER (WHERE l.cost IS NULL OR l.cost_unknown_quantity IS NOT NULL)
FROM invoices_invoiceline l JOIN invoices_invoice i ON i.id = l.invoice_id
WHERE i.status NOT IN ('draft', 'void')
GROUP BY 1, 2
"""


def best(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return min(times), result


def main() -> None:
    args = parse_args()
    if not configure():
        return
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from invoices.margin_report import Filters, GroupBy, MarginReport, margin_report

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"Django {django.get_version()}, PostgreSQL {version}"
    )
    began = time.perf_counter()
    count = seed(args.customers, args.months)
    print(
        f"seed: {args.customers:,} customers × {args.months} months = "
        f"{args.customers * args.months:,} issued invoices, {count:,} lines "
        f"in {time.perf_counter() - began:.1f} s"
    )

    def raw() -> list[Any]:
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            return list(cursor.fetchall())

    base, rows = best(args.repeat, raw)
    print(f"baseline: raw SQL GROUP BY customer: {base * 1000:.1f} ms, {len(rows):,} groups")

    def raw_events() -> list[Any]:
        with connection.cursor() as cursor:
            cursor.execute(EVENTS_SQL)
            return list(cursor.fetchall())

    events_time, groups = best(args.repeat, raw_events)
    print(
        f"baseline: raw SQL GROUP BY customer, meter, month over the "
        f"{count * EVENTS_PER_LINE:,} usage events: {events_time * 1000:.1f} ms, "
        f"{len(groups):,} groups"
    )
    for by in GroupBy:

        def run(by: GroupBy = by) -> MarginReport:
            return margin_report(Filters(), by, "model")

        seconds, report = best(args.repeat, run)
        print(
            f"margin_report by {by.value:<9}: {seconds * 1000:7.1f} ms, "
            f"{len(report.rows):>5,} rows, {seconds / base:5.1f}× the lines' GROUP BY, "
            f"{seconds / events_time:4.1f}× the events' GROUP BY"
        )
    by_customer = margin_report(Filters(), GroupBy.CUSTOMER)
    sql_total = sum(r[2] or 0 for r in rows) - sum(r[3] or 0 for r in rows)
    [total] = by_customer.totals
    same = total.margin == sql_total
    print(f"check: report margin {total.margin} == SQL margin {sql_total}: {same}")


if __name__ == "__main__":
    main()
