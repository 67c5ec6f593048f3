"""Exact usage aggregates on SQLite.

SQLite has no decimal type: a `DecimalField` column has NUMERIC affinity, so
`0.1` is stored as the double nearest to 0.1, and SQLite's SUM adds doubles
(99999999999.9 + 0.000000001 comes back as 99999999999.9). Django then reads a
decimal aggregate through a float kept to 15 significant digits.

So on SQLite, Tally registers two aggregates written in Python on every
connection: `exact_sum` and `exact_max`. Each turns every stored value back
into the decimal that was written (a value of at most 15 significant digits,
which is what SQLite can store exactly, survives the double: Django reads a
column the same way) and adds or compares exactly, and answers with text, so no
float stands between the sum and Python. `ExactSum` and `ExactMax` are the ORM
expressions: those functions on SQLite, plain SUM/MAX on PostgreSQL, whose
`numeric` is exact already.

Storage itself keeps 15 significant digits on SQLite (docs/PRICING.md, "Exact
at every size"); what SQLite stored, these aggregates add up exactly.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Aggregate, TextField

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.expressions import Expression
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

PLACES = 9  # UsageEvent.value's decimal_places
NANO = Decimal(1).scaleb(-PLACES)
# How Django reads a REAL from a DecimalField column (its SQLite backend's
# decimal converter): the float to 15 significant digits, then the column's places.
_FROM_FLOAT = Context(prec=15)
_WIDE = Context(prec=60)


def stored_decimal(value: int | float | str) -> Decimal:
    """The decimal a stored SQLite value stands for, to the column's 9 places."""
    if isinstance(value, float):
        exact = _FROM_FLOAT.create_decimal_from_float(value)
    else:
        exact = Decimal(value)  # INTEGER, or TEXT that SQLite kept as text
    return exact.quantize(NANO, context=_WIDE)


def _nanos(value: int | float | str) -> int:
    """Billionths of a unit, as a Python int: adding ints is exact and fast."""
    return int(stored_decimal(value).scaleb(PLACES, context=_WIDE))


def _text(nanos: int) -> str:
    return str(Decimal(nanos).scaleb(-PLACES, context=_WIDE))


class _SumAggregate:
    """sqlite3 aggregate: the exact sum of the non-NULL values, as text."""

    def __init__(self) -> None:
        self.total: int | None = None

    def step(self, value: int | float | str | None) -> None:
        if value is not None:
            self.total = (self.total or 0) + _nanos(value)

    def finalize(self) -> str | None:
        return None if self.total is None else _text(self.total)


class _MaxAggregate:
    """sqlite3 aggregate: the largest non-NULL value, compared as decimals, as text."""

    def __init__(self) -> None:
        self.largest: int | None = None

    def step(self, value: int | float | str | None) -> None:
        if value is not None:
            nanos = _nanos(value)
            self.largest = nanos if self.largest is None else max(self.largest, nanos)

    def finalize(self) -> str | None:
        return None if self.largest is None else _text(self.largest)


def register_exact_aggregates(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    """`connection_created` receiver: teach each new SQLite connection exact_sum
    and exact_max (PostgreSQL needs nothing)."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("exact_sum", 1, _SumAggregate)
        connection.connection.create_aggregate("exact_max", 1, _MaxAggregate)


class _ExactAggregate(Aggregate):
    """An aggregate that is exact on both engines and answers a Decimal.

    The output field is text on purpose: Django reads a DecimalField aggregate
    on SQLite through a float (15 digits), which is what this avoids; the text
    the SQLite function returns, or PostgreSQL's exact numeric, becomes a
    Decimal in `convert_value`.
    """

    sqlite_function = ""
    output_field = TextField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> _AsSqlType:
        return self.as_sql(compiler, connection, function=self.sqlite_function, **extra_context)

    def convert_value(
        self, value: object, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(str(value))


class ExactSum(_ExactAggregate):
    function = "SUM"
    sqlite_function = "exact_sum"
    name = "ExactSum"


class ExactMax(_ExactAggregate):
    function = "MAX"
    sqlite_function = "exact_max"
    name = "ExactMax"
