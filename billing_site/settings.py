"""Tally's one settings file. Everything that differs between machines comes
from the environment, read through the small typed helpers below, which fail
with a clear message on a bad value."""

from __future__ import annotations

import os
import zoneinfo
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

# Lets annotations such as admin.ModelAdmin[Meter] run (django-stubs generics).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        message = f"{name} must be a whole number of at least {minimum}, got {raw!r}"
        raise ImproperlyConfigured(message)
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_number_format(name: str, default: str) -> str:
    """A document number format with `{seq}` (and optionally `{year}`)."""
    value = env_str(name, default)
    try:
        sample = value.format(year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a valid format: {exc}") from exc
    if "{seq" not in value or not 0 < len(sample) <= 64:
        raise ImproperlyConfigured(
            f"{name}={value!r} must contain {{seq}} and give at most 64 characters."
        )
    return value


def env_timezone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} must be an IANA time zone, got {value!r}") from exc
    return value


# Off unless asked for: a deployment that forgets DEBUG must not run with a
# public key and answer errors with tracebacks. `make run` and the test suite
# (tests/settings.py) turn it on explicitly.
DEBUG = env_bool("DEBUG", False)
# The development key only works with DEBUG on; production must set SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (for development set DEBUG=1, "
            "as `make run` does; for production see README.md, Running in production)"
        )
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_tables2",
    "django_countries",
    "ninja",
    "axes",
    "meters",
    "pricing",
    "customers",
    "invoices",
    "billing_site",
    "auditlog",
    # Django's tasks framework on our own database (TASKS below).
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Each request's door, user and address for the audit trail (billing_site/audit.py).
    "billing_site.audit.AuditMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "billing_site.urls"
WSGI_APPLICATION = "billing_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "builtins": ["pricing.templatetags.money", "meters.templatetags.dimension_values"],
        },
    },
]

# SQLite file by default; DATABASE_URL (postgres://...) selects PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    )
}
# Persistent connections. On PostgreSQL opening one costs a round trip, a
# backend process and authentication, several milliseconds a request (p50 of a
# trivial request fell from about 11 ms to 2 ms with them). On SQLite opening
# one runs the WAL pragmas and registers the exact aggregates and the decimal
# collation (meters/sqlite_functions.py): ingestion in batches of 100 rose from
# about 6,700 to 9,000 events/s with persistent connections (bench/ingest.py).
# Each server thread keeps its own connection for DB_CONN_MAX_AGE seconds,
# checked before reuse (CONN_HEALTH_CHECKS), so a restart costs one retry.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several server processes write usage at once: WAL lets readers run beside
    # the writer, IMMEDIATE transactions queue writers instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Password guessing (django-axes, on /login/ and /admin/login/ alike, since
# both go through django.contrib.auth.authenticate): after AXES_FAILURE_LIMIT
# wrong passwords for one username from one address, that pair is locked out
# for AXES_COOLOFF_TIME, even with the right password, and every further try
# during the lockout starts the cool-off again. Locking by username AND address
# (not username alone) means an attacker cannot lock a colleague out from
# everywhere by typing their name; the colleague's own address still works. A
# successful login clears the count. Axes reads the address from REMOTE_ADDR:
# behind a proxy, the proxy must pass the client's address there.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Failures and lockouts are still logged; not the banner on every command start.
AXES_VERBOSE = False

# API-key guessing (meters/api_keys.py): an address that sends more than
# API_KEY_FAILURE_LIMIT wrong keys within a window of API_KEY_FAILURE_WINDOW
# seconds gets 429 with Retry-After on every machine endpoint until the window
# ends. The counts live in the cache below.
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 20, minimum=1)
API_KEY_FAILURE_WINDOW = env_int("API_KEY_FAILURE_WINDOW", 60, minimum=1)

# Each server process keeps its own cache unless REDIS_URL (redis://host:6379/0)
# names a Redis that all processes share; with several processes and no Redis,
# the API-key limit above counts per process.
REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True
# Billing periods are computed in this zone (a monthly period starting on the
# 1st starts at midnight here), and pages, PDFs and date inputs use it too, so
# what an operator reads and types is what billing uses. UTC unless named.
TIME_ZONE = env_timezone("BILLING_TIME_ZONE", "UTC")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where collectstatic gathers the files production serves.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Production serves static files itself through whitenoise, from STATIC_ROOT
# (`make serve` runs collectstatic first): compressed, with hashed names cached
# for a year. With DEBUG on (`make run`, the tests) files are read from the
# source folders, so nothing needs collecting first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
if not DEBUG:
    # Static files straight after the security headers, before sessions and
    # login: a stylesheet needs neither. (With DEBUG on, runserver serves them.)
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
# Compress only the hashed copies (the names {% static %} gives): half the work.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True

# Background work (Django's tasks framework): tasks are rows in our own
# database, run by `manage.py run_worker` (a process beside the web server;
# `make run` starts one). Enqueue a task after the commit that it depends on.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# How often, in seconds, the worker closes billing periods
# (invoices.tasks.close_periods_task); shared by all workers, not per worker.
CLOSE_PERIODS_EVERY = env_int("CLOSE_PERIODS_EVERY", 300, minimum=1)

# Printed on every invoice and PDF.
SELLER_NAME = env_str("SELLER_NAME", "Tally Demo Inc.")
SELLER_ADDRESS = env_str(
    "SELLER_ADDRESS", "1 Market Street\nSan Francisco, CA 94105\nUnited States"
)
# How amounts, numbers and dates are written (a CLDR locale: en_US, de_DE,
# ja_JP): on every page, and on the invoices of customers with no locale of
# their own (pricing.locales).
SELLER_LOCALE = env_str("SELLER_LOCALE", "en_US")

# Invoice and credit-note numbers: `{year}` is the issue year, `{seq}` the
# gapless sequence number (one sequence per kind, never reset, never reused).
INVOICE_NUMBER_FORMAT = env_number_format("INVOICE_NUMBER_FORMAT", "TAL-{year}-{seq:06d}")
CREDIT_NOTE_NUMBER_FORMAT = env_number_format(
    "CREDIT_NOTE_NUMBER_FORMAT", "TAL-CN-{year}-{seq:06d}"
)

# Event upload limits, so one paste cannot exhaust the server.
UPLOAD_MAX_BYTES = int(env_str("UPLOAD_MAX_BYTES", str(20 * 1024 * 1024)))
UPLOAD_MAX_RECORDS = int(env_str("UPLOAD_MAX_RECORDS", "100000"))
# The ingestion API: per request, after decompression.
INGEST_MAX_BYTES = int(env_str("INGEST_MAX_BYTES", str(10 * 1024 * 1024)))
INGEST_MAX_RECORDS = int(env_str("INGEST_MAX_RECORDS", "10000"))
# How far back an event's time may be when it arrives (Stripe allows 35 days);
# older records are rejected one by one, with a reason. Older history is loaded
# on purpose: the upload's older-history option or `manage.py load_usage
# --allow-backfill`. Times before 2000 are refused always.
INGEST_BACKFILL_DAYS = env_int("INGEST_BACKFILL_DAYS", 35, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(UPLOAD_MAX_BYTES, INGEST_MAX_BYTES) + 1024 * 1024
# The rate editor posts every input of every matrix row (each price model's
# fields stay in the form, hidden, so switching a row's model loses nothing):
# about 20 fields a row, plus tiers. Django's default of 1,000 fields would stop
# a matrix at a few dozen rows, far below the schema's 1,000-row limit.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 50_000

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"
# List pages boost sorting and paging links through HTMX (hx-boost on the
# table's container); links inside rows navigate normally.
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table", "tbody": {"hx-boost": "false"}}

# Where a lower app gets what only an app above it knows, so imports point one
# way (docs/ARCHITECTURE.md, "Which app may import which"): the lower app
# defines a Protocol, the app above implements it, and these name the classes.
# Ingestion and the upload form look customers up and create them through
# meters.customer_directory.
CUSTOMER_DIRECTORY = "customers.directory.Directory"
# The rate editor's preview prices a customer's usage so far this period.
PREVIEW_USAGE_WINDOWS = "invoices.preview_usage.InvoicePeriods"

# HTTPS. Off by default so `make serve` works on plain http://127.0.0.1; a
# deployment behind TLS turns them on (README.md, Running in production), and
# tests/test_deploy.py checks that `check --deploy` is then clean.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Asking browsers to preload HSTS is a decision about the whole domain,
    # not about this app; the deploy check's reminder of it is not a fault.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Behind a proxy that terminates TLS, the request reaches us as http; trust its
# X-Forwarded-Proto only when told that such a proxy (which overwrites the
# header) is in front, or a client could claim https.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (Django's own middleware): everything from our own
# origin, no inline scripts or styles, no plugins, no framing. htmx's own
# indicator <style> is turned off in templates/_base.html for this reason.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# The audit trail (billing_site/audit.py): django-auditlog records every change
# to these models with the values before and after. Usage events and rejected
# records are not here: immutable, millions of rows, their own record.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    "meters.meter",
    # last_used_at is bumped on use (at most once a minute); using a key is not a change.
    {"model": "meters.apikey", "exclude_fields": ["key_hash", "last_used_at"]},
    # A new price version moves current_version; the version itself is the record.
    {"model": "pricing.plan", "exclude_fields": ["current_version"], "m2m_fields": ["tax_rates"]},
    "pricing.planversion",
    "pricing.rate",
    "pricing.pricecell",
    "pricing.taxrate",
    {"model": "pricing.coupon", "m2m_fields": ["meters"]},
    "customers.customer",
    "customers.planassignment",
    # Written once by invoices.credits; its ledger (CreditLedgerEntry) is its
    # own immutable record of what happens to it after, so it is not tracked.
    "invoices.creditgrant",
    # Given and removed; what it discounted is each invoice's adjustments.
    "invoices.couponredemption",
    # Written once; what it paid is its invoices' adjustments.
    "invoices.commitment",
    {
        "model": "auth.user",
        "exclude_fields": ["last_login"],
        # That a password changed is recorded; the hash never is.
        "mask_fields": ["password"],
        "mask_callable": "billing_site.audit.hidden",
        "m2m_fields": ["groups", "user_permissions"],
    },
)
# Before/after values stored as text (exact decimals, no float round trip).
AUDITLOG_STORE_JSON_CHANGES = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # Django's own console handler (DEBUG on) would print each of its
        # records a second time beside the root's.
        "django": {"handlers": [], "propagate": True},
    },
}
