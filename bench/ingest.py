"""Ingestion throughput over HTTP, against a raw bulk load as the baseline.

Starts gunicorn (several workers) on a scratch database, sends N usage events
(default 1,000,000) as gzip JSON batches of 100 and of 1,000 over several
concurrent keep-alive connections, and prints events per second. In the same
run it loads the same rows straight into the database (COPY on PostgreSQL,
batched INSERTs on SQLite) and prints the ratio.

    .venv/bin/python bench/ingest.py                       # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tally_bench .venv/bin/python bench/ingest.py
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import platform
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH_SQLITE = "/tmp/tally-bench-ingest.sqlite3"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per batch size")
    parser.add_argument("--batch-sizes", default="100,1000", help="comma-separated batch sizes")
    parser.add_argument(
        "--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's, 2 a core)"
    )
    parser.add_argument(
        "--threads", type=int, help="threads a worker (default: gunicorn.conf.py's, 4)"
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent client connections")
    parser.add_argument("--customers", type=int, default=100, help="distinct customer IDs")
    return parser.parse_args()


def setup_database() -> str:
    """A fresh database: a scratch SQLite file, or DATABASE_URL recreated."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        for suffix in ("", "-wal", "-shm"):
            Path(SCRATCH_SQLITE + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{SCRATCH_SQLITE}"
    elif url.startswith("postgres"):
        import psycopg

        name = url.rsplit("/", 1)[1]
        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    # As in production (and as the server it starts runs).
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def seed() -> str:
    """The guide's meters and an API key; returns the key."""
    from meters.api_keys import api_key_create
    from meters.services import meter_create

    meter_create(label="API calls", api_name="api-calls", meter_type="count", dimensions=[])
    meter_create(
        label="LLM tokens", api_name="llm-tokens", meter_type="count", dimensions=["model", "type"]
    )
    _key, raw = api_key_create(name="bench")
    return raw


def make_records(count: int, customers: int, tag: str, now_ms: int) -> list[dict[str, object]]:
    models, types = ("model a", "model b", "model c"), ("input", "output")
    records: list[dict[str, object]] = []
    for i in range(count):
        record: dict[str, object] = {
            "uniqueId": f"{tag}-{i}",
            "meterApiName": "llm-tokens" if i % 4 else "api-calls",
            "meterValue": 1000 + i % 500,
            "customerId": f"customer-{i % customers}",
            "meterTimeInMillis": now_ms - (i % 3_600_000),
        }
        if i % 4:
            record["dimensions"] = {"model": models[i % 3], "type": types[i % 2]}
        records.append(record)
    return records


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workers: int | None, threads: int | None) -> tuple[subprocess.Popen[bytes], int]:
    """The documented production command (`gunicorn billing_site.wsgi`, which
    reads gunicorn.conf.py), with DEBUG off and no access log."""
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "LOG_LEVEL": "WARNING",
        "BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "",
    }
    if workers is not None:
        env["WEB_CONCURRENCY"] = str(workers)
    if threads is not None:
        env["GUNICORN_THREADS"] = str(threads)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "billing_site.wsgi", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def send_all(port: int, key: str, bodies: list[bytes], connections: int) -> tuple[float, int]:
    """POST every body over `connections` keep-alive connections; returns
    (seconds, accepted events)."""
    work: queue.Queue[bytes] = queue.Queue()
    for body in bodies:
        work.put(body)
    accepted = [0] * connections
    errors: list[str] = []
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "X-API-KEY": key,
    }

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                break
            conn.request("POST", "/ingest/", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                errors.append(f"{response.status} {payload[:200]!r}")
                continue
            answer = json.loads(payload)
            accepted[slot] += answer["accepted"]
            if answer["rejected"]:
                errors.append(f"rejected: {answer['rejected'][:2]}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return elapsed, sum(accepted)


def baseline_load(records: list[dict[str, object]]) -> float:
    """The same rows straight into the table: the least work any server must do."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from django.db import connection, transaction

    from meters.event_store import insert_new
    from meters.models import Meter, UsageEvent
    from meters.naming import dimension_key
    from meters.validation import ValidEvent

    meters = {m.api_name: m.pk for m in Meter.objects.all()}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rows = [
        ValidEvent(
            meter_id=meters[str(r["meterApiName"])],
            customer_id=str(r["customerId"]),
            value=Decimal(int(r["meterValue"])),  # type: ignore[call-overload]
            event_time=epoch + timedelta(milliseconds=int(r["meterTimeInMillis"])),  # type: ignore[call-overload]
            dimensions=dict(r.get("dimensions") or {}),  # type: ignore[call-overload]
            dimension_key=dimension_key(dict(r.get("dimensions") or {})),  # type: ignore[call-overload]
            unique_id=f"base-{r['uniqueId']}",
        )
        for r in records
    ]
    now = datetime.now(UTC)
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            copy_sql = (
                f"COPY {UsageEvent._meta.db_table} (meter_id, customer_id, value, event_time, "
                "dimensions, dimension_key, unique_id, received_at) FROM STDIN"
            )
            with cursor.cursor.copy(copy_sql) as copy:  # psycopg 3
                for e in rows:
                    copy.write_row(
                        (
                            e.meter_id,
                            e.customer_id,
                            e.value,
                            e.event_time,
                            json.dumps(e.dimensions),
                            e.dimension_key,
                            e.unique_id,
                            now,
                        )
                    )
    else:
        insert_new(rows, received_at=now)
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    url = setup_database()
    key = seed()
    from django.db import connection

    if connection.vendor == "sqlite":
        version = connection.Database.sqlite_version
    else:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = cursor.fetchone()[0]
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    print(f"machine: {machine}, {connection.vendor} {version}")
    workers = args.workers or 2 * (os.cpu_count() or 1)
    threads = args.threads or 4
    server = f"gunicorn.conf.py: {workers} gthread workers x {threads} threads"
    print(f"server: {server}; client: {args.connections} connections")
    now_ms = int(time.time() * 1000)
    results = []
    for size in (int(s) for s in args.batch_sizes.split(",")):
        records = make_records(args.events, args.customers, f"b{size}", now_ms)
        bodies = [
            gzip.compress(json.dumps(records[i : i + size]).encode())
            for i in range(0, len(records), size)
        ]
        server, port = start_server(args.workers, args.threads)
        try:
            seconds, accepted = send_all(port, key, bodies, args.connections)
        finally:
            server.terminate()
            server.wait()
        if accepted != len(records):
            raise SystemExit(f"accepted {accepted} of {len(records)}")
        base = baseline_load(records)
        results.append((size, len(records), seconds, base))
    print()
    print(f"{'batch':>6} {'events':>10} {'HTTP ingest/s':>14} {'raw load/s':>12} {'ratio':>7}")
    for size, n, seconds, base in results:
        print(f"{size:>6} {n:>10,} {n / seconds:>14,.0f} {n / base:>12,.0f} {base / seconds:>7.2f}")
    print(f"\n(database: {url.split('@')[-1]})")


if __name__ == "__main__":
    main()
