"""How fast is an invoice built at scale? `make bench` runs this.

It builds the guide's scenario (invoices.demo.guide_seed), bulk-loads N
synthetic usage events (default 1,000,000) for the guide's customer and 50
others inside the current billing period, then times, best of --repeat runs:

  (a) invoices.builder.build_invoice for the guide customer's current period;
  (b) the baseline: one raw grouped SUM over that customer's events in the
      period, the least work any implementation must do;
  (c) invoices.pdf.render_invoice_pdf for that invoice.

Before timing anything it checks that the invoice's quantities equal the
baseline's sums, group by group, so the benchmark cannot time a wrong answer.

The database is a scratch SQLite file under /tmp, deleted afterwards, unless
DATABASE_URL names one; that database is wiped (every table migrated to zero,
then migrated again), so its name must contain "bench". A missing PostgreSQL
database is created. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import django

if TYPE_CHECKING:
    from invoices.builder import Invoice
    from meters.models import Meter

ROOT = Path(__file__).resolve().parent.parent
BATCH = 10_000
OTHER_CUSTOMERS = 50
GUIDE_SHARE = 0.2  # the guide's customer is the heaviest: a fifth of all events
SEED = 20_240_601  # the synthetic data is the same on every run

# (model, type) -> weight, for llm-tokens events; "model c" has no price in
# the guide's matrix, so its usage shows up as unpriced on the invoice.
TOKEN_MIX: tuple[tuple[tuple[str, str], float], ...] = (
    (("model a", "input"), 0.30),
    (("model a", "output"), 0.20),
    (("model b", "input"), 0.18),
    (("model b", "output"), 0.12),
    (("model c", "input"), 0.12),
    (("model c", "output"), 0.08),
)
API_CALLS_SHARE = 0.3  # the rest are llm-tokens events
TOKENS_PER_EVENT = {"input": (50, 4_000), "output": (10, 1_500)}

Groups = dict[tuple[str, tuple[tuple[str, str], ...]], Decimal]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time building the guide customer's invoice over N synthetic usage events, "
            "against a baseline (one raw grouped SUM query) measured in the same run. "
            "Uses a scratch SQLite file under /tmp unless DATABASE_URL names a database "
            "(whose name must contain 'bench': it is wiped and migrated afresh)."
        ),
        epilog=(
            "Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/tally_bench "
            ".venv/bin/python bench/invoice.py --events 200000"
        ),
    )
    parser.add_argument(
        "--events",
        type=_positive,
        default=1_000_000,
        metavar="N",
        help="synthetic usage events to load (default: 1,000,000)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=5,
        metavar="R",
        help="runs per timed operation; the best one is reported (default: 5)",
    )
    return parser.parse_args()


def _positive(raw: str) -> int:
    value = int(raw.replace("_", "").replace(",", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {raw}")
    return value


# --- the database ------------------------------------------------------------


def configure() -> Path | None:
    """Set the environment Django reads, before django.setup(). Returns the
    scratch directory to delete afterwards, if one was made."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_site.settings"
    # Production-like: with DEBUG on, Django would keep every query's SQL text.
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "tally-bench-only-not-a-secret")
    url = os.environ.get("DATABASE_URL")
    if url:
        return None
    scratch = Path(tempfile.mkdtemp(prefix="tally-bench-", dir="/tmp"))
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    return scratch


def prepare_database() -> None:
    """A database with the current schema and no rows: created if missing
    (PostgreSQL), emptied by migrating every app to zero if it has tables."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    db = settings.DATABASES["default"]
    name = str(db["NAME"])
    if "bench" not in Path(name).name:
        sys.exit(
            f"bench/invoice.py wipes its database; refusing {name!r}, whose name does not "
            "contain 'bench'. Use e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/tally_bench."
        )
    if connection.vendor == "postgresql":
        _create_postgres_database(db)
    if connection.introspection.table_names():
        print("database has tables: migrating every app to zero first")
        loader = MigrationLoader(connection)
        for app_label in sorted(loader.migrated_apps):
            call_command("migrate", app_label, "zero", verbosity=0, interactive=False)
    call_command("migrate", verbosity=0, interactive=False)


def _create_postgres_database(db: dict[str, Any]) -> None:
    import psycopg
    from psycopg import sql

    params = {
        key: db[setting]
        for key, setting in (("user", "USER"), ("password", "PASSWORD"), ("host", "HOST"))
        if db.get(setting)
    }
    if db.get("PORT"):
        params["port"] = str(db["PORT"])
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if found.fetchone() is None:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            print(f"created database {db['NAME']}")


def machine_line() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        database = f"SQLite {connection.Database.sqlite_version}"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"machine: nproc {cpus} ({_cpu_model()}), Python {platform.python_version()}, "
        f"Django {django.get_version()}, {database}"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine() or "unknown CPU"


# --- the data ----------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    meter_id: int
    dimensions: dict[str, str]
    dimension_key: str
    values: tuple[int, int]  # meterValue drawn uniformly from this closed range


def event_kinds(api_calls: Meter, llm_tokens: Meter) -> tuple[list[Kind], list[float]]:
    from meters.naming import dimension_key

    kinds = [Kind(api_calls.pk, {}, dimension_key({}), (1, 1))]
    weights = [API_CALLS_SHARE]
    for (model, token_type), weight in TOKEN_MIX:
        dims = {"model": model, "type": token_type}
        kinds.append(Kind(llm_tokens.pk, dims, dimension_key(dims), TOKENS_PER_EVENT[token_type]))
        weights.append((1 - API_CALLS_SHARE) * weight)
    return kinds, weights


def load_events(
    count: int, kinds: list[Kind], weights: list[float], start: datetime, end: datetime
) -> float:
    """Insert `count` events in one transaction, BATCH at a time, with times in
    [start, end) to the millisecond. Returns the seconds it took."""
    from django.db import transaction

    from invoices.demo import CUSTOMER_ID
    from meters.models import UsageEvent

    rng = random.Random(SEED)
    # Times on their own generator: how many bits a time draws depends on the
    # period's length so far, and the rest of the data should not.
    time_rng = random.Random(SEED + 1)
    customers = [CUSTOMER_ID] + [f"bench-customer-{n:02d}" for n in range(1, OTHER_CUSTOMERS + 1)]
    customer_weights = [GUIDE_SHARE] + [(1 - GUIDE_SHARE) / OTHER_CUSTOMERS] * OTHER_CUSTOMERS
    span_ms = max(1, (end - start) // timedelta(milliseconds=1))
    began = time.perf_counter()
    with transaction.atomic(), _load_cache():
        for first in range(0, count, BATCH):
            size = min(BATCH, count - first)
            batch_kinds = rng.choices(kinds, weights, k=size)
            batch_customers = rng.choices(customers, customer_weights, k=size)
            UsageEvent.objects.bulk_create(
                [
                    UsageEvent(
                        meter_id=kind.meter_id,
                        customer_id=customer,
                        value=rng.randint(*kind.values),
                        event_time=start + timedelta(milliseconds=time_rng.randrange(span_ms)),
                        dimensions=kind.dimensions,
                        dimension_key=kind.dimension_key,
                        unique_id=f"bench-{first + offset}",
                    )
                    for offset, (kind, customer) in enumerate(
                        zip(batch_kinds, batch_customers, strict=True)
                    )
                ],
                batch_size=BATCH,
            )
            done = first + size
            if done % 100_000 == 0 or done == count:
                print(f"  {done:>10,} events loaded", flush=True)
    return time.perf_counter() - began


@contextmanager
def _load_cache() -> Iterator[None]:
    """On SQLite, a 256 MiB page cache while loading (the default 2 MiB spills
    the four indexes' pages to the WAL over and over), then the default again,
    so that what is timed runs as the app would."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        default = cursor.fetchone()[0]
        cursor.execute("PRAGMA cache_size = -262144")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(default)}")


def settle() -> None:
    """Bring the database to rest after the load, as it would be in service.
    PostgreSQL's autovacuum vacuums and analyzes a table soon after a bulk
    load; doing it now keeps it from starting in the middle of the timings.
    SQLite has no autovacuum and Django never runs ANALYZE there, so it only
    gets its write-ahead log checkpointed into the database file."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE meters_usageevent")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- what is timed -----------------------------------------------------------

BASELINE_SQL = (
    "SELECT meter_id, dimension_key, SUM(value) FROM meters_usageevent "
    "WHERE customer_id = %s AND event_time >= %s AND event_time < %s "
    "GROUP BY meter_id, dimension_key"
)


def baseline(customer_id: str, start: datetime, end: datetime) -> list[tuple[Any, ...]]:
    from django.db import connection

    ops = connection.ops  # datetimes as the backend stores them (UTC text on SQLite)
    params = [
        customer_id,
        ops.adapt_datetimefield_value(start),
        ops.adapt_datetimefield_value(end),
    ]
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, params)
        return cursor.fetchall()


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


# --- the correctness guard ---------------------------------------------------


def invoice_groups(invoice: Invoice) -> Groups:
    """Usage quantities on the invoice per (meter label, dimensions): priced
    usage lines and unpriced usage alike, base fees and minimums left out."""
    from pricing.rating import LineKind

    groups: Groups = {}
    for section in invoice.sections:
        for line in section.lines:
            if line.kind is LineKind.USAGE:
                _add(groups, section.meter_label, line.dimensions, line.quantity)
    for usage in invoice.unpriced:
        if any(value is None for _, value in usage.dimensions):
            raise AssertionError(f"usage without a dimension the rate prices by: {usage}")
        pairs = tuple((name, value or "") for name, value in usage.dimensions)
        _add(groups, usage.meter_label, pairs, usage.quantity)
    return groups


def baseline_groups(rows: list[tuple[Any, ...]]) -> Groups:
    from meters.models import Meter
    from meters.naming import parse_dimension_key

    labels = dict(Meter.objects.values_list("pk", "label"))
    groups: Groups = {}
    for meter_id, key, total in rows:
        pairs = tuple(parse_dimension_key(key).items())
        _add(groups, labels[meter_id], pairs, Decimal(str(total)))
    return groups


def _add(groups: Groups, label: str, pairs: tuple[tuple[str, str], ...], quantity: Decimal) -> None:
    key = (label, tuple(sorted(pairs)))
    if key in groups:
        raise AssertionError(f"{key} appears twice")
    groups[key] = quantity


def check_invoice(invoice: Invoice, rows: list[tuple[Any, ...]]) -> None:
    got, want = invoice_groups(invoice), baseline_groups(rows)
    if got != want:
        lines = [f"  {key}: invoice {got.get(key)}, baseline {want.get(key)}" for key in want]
        lines += [f"  {key}: invoice {got[key]}, baseline None" for key in got if key not in want]
        raise AssertionError("invoice quantities differ from the baseline:\n" + "\n".join(lines))


# --- the run -----------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.utils import timezone

    from customers.models import Customer
    from invoices.builder import build_invoice, current_period
    from invoices.demo import API_CALLS, CUSTOMER_ID, LLM_TOKENS, guide_seed
    from invoices.pdf import render_invoice_pdf
    from meters.models import Meter, UsageEvent

    print(machine_line())
    now = timezone.now()
    guide_seed(now=now)
    customer = Customer.objects.get(customer_id=CUSTOMER_ID)
    ref = current_period(customer, now)
    if ref is None:
        raise SystemExit("the guide's customer has no current billing period")
    start, end = ref.period.start, ref.usage_end
    print(f"period: {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, events up to now")

    meters = {m.api_name: m for m in Meter.objects.all()}
    kinds, weights = event_kinds(meters[API_CALLS.api_name], meters[LLM_TOKENS.api_name])
    print(f"loading {args.events:,} events ({BATCH:,} per bulk_create, one transaction)")
    seconds = load_events(args.events, kinds, weights, start, now)
    print(
        f"load: {args.events:,} events in {seconds:.1f} s = {args.events / seconds:,.0f} events/s"
    )
    settle()

    covered = UsageEvent.objects.filter(
        customer_id=customer.customer_id, event_time__gte=start, event_time__lt=end
    ).count()
    rows = baseline(customer.customer_id, start, end)
    invoice = build_invoice(customer, ref)
    check_invoice(invoice, rows)
    pdf = render_invoice_pdf(invoice)
    if not pdf.startswith(b"%PDF"):
        raise AssertionError("render_invoice_pdf did not return a PDF")
    print(
        f"check: the invoice's {len(rows)} usage groups equal the baseline's sums "
        f"over the guide customer's {covered:,} events; total {invoice.total} {invoice.currency}"
    )

    timings = [
        ("build_invoice", best_of(args.repeat, lambda: build_invoice(customer, ref))),
        (
            "baseline: raw grouped SUM",
            best_of(args.repeat, lambda: baseline(customer.customer_id, start, end)),
        ),
        ("render_invoice_pdf", best_of(args.repeat, lambda: render_invoice_pdf(invoice))),
    ]
    print()
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"{connection.vendor}, {args.events:,} events, best of {args.repeat}, load avg {load}")
    for line in table(timings, covered):
        print(line)


def table(timings: list[tuple[str, float]], covered: int) -> Iterator[str]:
    base = dict(timings)["baseline: raw grouped SUM"]
    yield "| operation | best (ms) | events covered | × baseline |"
    yield "| --- | ---: | ---: | ---: |"
    for name, seconds in timings:
        yield f"| {name} | {seconds * 1000:,.1f} | {covered:,} | {seconds / base:,.2f} |"


def main() -> None:
    args = parse_args()
    scratch = configure()
    try:
        django.setup()
        # As `make serve` does: with DEBUG off, {% static %} in the PDF template
        # names the collected, hashed copy of the stylesheet.
        from django.core.management import call_command

        call_command("collectstatic", "--noinput", verbosity=0)
        prepare_database()
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    began = datetime.now(UTC)
    main()
    print(f"\nfinished in {(datetime.now(UTC) - began).total_seconds():.0f} s")
