"""The one way past the database's immutability triggers: emptying the whole
database on purpose (`manage.py flush`, which the test runner also uses).

On PostgreSQL flush truncates, which fires no row trigger, so nothing is
needed. On SQLite flush deletes row by row, and the delete triggers of
migration 0002 refuse unless `tally_erase_allowed()` answers 1 on that
connection. It answers 1 only inside `erase_allowed()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

FLAG = "tally_erase_allowed"


def register_erase_flag(sender: object, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: the SQL function the triggers ask."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            FLAG, 0, lambda: int(getattr(connection, FLAG, False)), deterministic=False
        )


@contextmanager
def erase_allowed(using: str) -> Iterator[None]:
    connection = connections[using]
    setattr(connection, FLAG, True)
    try:
        yield
    finally:
        setattr(connection, FLAG, False)
