"""Tally's one settings file. Everything that differs between machines comes
from the environment, read through the small typed helpers below, which fail
with a clear message on a bad value."""

from __future__ import annotations

import os
import zoneinfo
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

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


def env_timezone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} must be an IANA time zone, got {value!r}") from exc
    return value


DEBUG = env_bool("DEBUG", True)
# The development key only works with DEBUG on; production must set SECRET_KEY.
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
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
    "ninja",
    "meters",
    "pricing",
    "customers",
    "invoices",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
            "builtins": ["pricing.templatetags.money"],
        },
    },
]

# SQLite file by default; DATABASE_URL (postgres://...) selects PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(env_str("DB_CONN_MAX_AGE", "0")),
    )
}
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

LANGUAGE_CODE = "en-us"
USE_I18N = False
USE_TZ = True
# Billing periods are computed in this zone (a monthly period starting on the
# 1st starts at midnight here), and pages, PDFs and date inputs use it too, so
# what an operator reads and types is what billing uses. UTC unless named.
TIME_ZONE = env_timezone("BILLING_TIME_ZONE", "UTC")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

# Printed on every invoice and PDF.
SELLER_NAME = env_str("SELLER_NAME", "Tally Demo Inc.")
SELLER_ADDRESS = env_str(
    "SELLER_ADDRESS", "1 Market Street\nSan Francisco, CA 94105\nUnited States"
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

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"
# List pages boost sorting and paging links through HTMX (hx-boost on the
# table's container); links inside rows navigate normally.
DJANGO_TABLES2_TABLE_ATTRS = {"class": "table", "tbody": {"hx-boost": "false"}}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}
