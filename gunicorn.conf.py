"""Gunicorn's settings for Tally in production (`make serve`, README.md).

Gunicorn reads this file from the working directory by itself, so the
production command is just `gunicorn billing_site.wsgi`. Each value can be
changed from the environment.

Why `gthread` workers: gunicorn's default `sync` worker answers every request
with `Connection: close`, whatever `--keep-alive` says, so each request from an
SDK or a proxy pays a new TCP connection. A gthread worker keeps idle client
connections open (up to `keepalive` seconds) in its event loop without holding
a thread, and runs requests on a small thread pool. Each thread keeps its own
persistent database connection (DB_CONN_MAX_AGE), so a worker holds at most
`threads` connections to PostgreSQL: workers × threads in all.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


wsgi_app = "billing_site.wsgi:application"
bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = "gthread"
# Two processes a core: while one waits on the database, another runs Python.
workers = _env_int("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1))
threads = _env_int("GUNICORN_THREADS", 4)
# Seconds an idle client connection stays open. Above the 60 s idle timeout
# common in load balancers, so the balancer, not us, closes first.
keepalive = _env_int("GUNICORN_KEEPALIVE", 75)
timeout = _env_int("GUNICORN_TIMEOUT", 60)
# Restart a worker now and then (jittered, so not all at once) to cap any slow
# memory growth.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 10_000)
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None  # "" turns it off
errorlog = "-"
