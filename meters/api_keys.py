"""API keys: create, revoke, and recognize one on a request.

Keys look like `tly_<43 random url-safe characters>`; only their SHA-256 is
stored. A request names its key in `X-API-KEY` (what Amberflo's SDK sends) or
`Authorization: Bearer <key>`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from meters.models import ApiKey

KEY_PREFIX = "tly_"
# last_used_at is written at most this often per key, to keep writes off the hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, name: str) -> tuple[ApiKey, str]:
    """A new key; the raw key is returned once and never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(name=name, prefix=raw[:10], key_hash=hash_key(raw))
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
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
