"""API keys: create, revoke, and recognize one on a request.

Keys look like `tly_<43 random url-safe characters>`; only their SHA-256 is
stored. A request names its key in `X-API-KEY` (what Amberflo's SDK sends) or
`Authorization: Bearer <key>`.

Every machine door checks its key here (`api_key_authorize`), so the rules
hold everywhere at once:
- a key has a scope (`ApiKey.Scope`): `ingest` sends usage and adds or updates
  customers (what Amberflo's SDK needs to ingest), `read` reads, `full` does
  everything; each door names the scopes it accepts, and `full` is always one;
- once an address has presented API_KEY_FAILURE_LIMIT wrong keys in the
  current window (API_KEY_FAILURE_WINDOW seconds), it gets 429 for any key
  until the window ends, so keys cannot be guessed at speed. Counts live in Django's
  cache (per process without REDIS_URL, shared with it).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from billing_site.audit import audit_who_set
from meters.models import ApiKey

KEY_PREFIX = "tly_"
# last_used_at is written at most this often per key, to keep writes off the hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, name: str, scope: ApiKey.Scope = ApiKey.Scope.INGEST) -> tuple[ApiKey, str]:
    """A new key; the raw key is returned once and never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(name=name, prefix=raw[:10], key_hash=hash_key(raw), scope=scope)
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def presented_key(request: HttpRequest) -> str:
    raw = request.headers.get("X-API-KEY", "")
    if not raw:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        raw = token if scheme.lower() == "bearer" else ""
    return raw.strip()


def api_key_from_request(request: HttpRequest) -> ApiKey | None:
    """The active key the request presents, or None."""
    raw = presented_key(request)
    if not raw:
        return None
    key = ApiKey.objects.filter(key_hash=hash_key(raw), revoked_at__isnull=True).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        # A queryset update sends no signal: using a key is not an audited change.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    audit_who_set(f"key {key}")
    return key


class KeyRefused(Exception):
    """The request's key may not do this: 401 (no valid key), 403 (outside its
    scope) or 429 (too many wrong keys from this address; `retry_after` seconds)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def scopes_text(scopes: Iterable[ApiKey.Scope]) -> str:
    return " or ".join(str(scope) for scope in scopes)


def api_key_authorize(request: HttpRequest, *, scopes: Iterable[ApiKey.Scope]) -> ApiKey:
    """The request's active key if its scope is one of `scopes` (or `full`);
    else KeyRefused."""
    address = request.META.get("REMOTE_ADDR") or "unknown"
    wait = _blocked_for(address)
    if wait:
        message = f"too many wrong API keys from {address}; try again in {wait} seconds"
        raise KeyRefused(429, message, retry_after=wait)
    key = api_key_from_request(request)
    if key is None:
        if presented_key(request):
            _count_wrong_key(address)
        message = "a valid API key is required in the X-API-KEY header (or Authorization: Bearer)"
        raise KeyRefused(401, message)
    accepted = tuple(scopes)
    if key.scope != ApiKey.Scope.FULL and key.scope not in accepted:
        message = (
            f"this API key's scope is {key.scope}; {request.method} {request.path} "
            f"needs {scopes_text(accepted)}"
        )
        raise KeyRefused(403, message)
    return key


def _window() -> tuple[int, int]:
    """The current counting window's number and the seconds left in it."""
    length: int = settings.API_KEY_FAILURE_WINDOW
    now = time.time()
    return int(now // length), max(1, math.ceil(length - now % length))


def _failures_key(address: str, window: int) -> str:
    return f"api-key-failures:{address}:{window}"


def _blocked_for(address: str) -> int:
    window, left = _window()
    failures = cache.get(_failures_key(address, window), 0)
    return left if failures >= settings.API_KEY_FAILURE_LIMIT else 0


def _count_wrong_key(address: str) -> None:
    window, left = _window()
    key = _failures_key(address, window)
    # add() is a no-op when the counter exists; incr() is atomic on Redis and
    # under LocMemCache's lock, so concurrent failures are all counted.
    cache.add(key, 0, timeout=left + 1)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: start again
        cache.add(key, 1, timeout=left + 1)
