"""Shared test setup: fast hashing, floats banned from money, common fixtures."""

from __future__ import annotations

import decimal

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _float_operations_trap() -> None:
    # A float mixed into Decimal maths raises instead of silently losing cents.
    decimal.getcontext().traps[decimal.FloatOperation] = True


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    # The cache counts wrong API keys per address; each test starts with none.
    cache.clear()
