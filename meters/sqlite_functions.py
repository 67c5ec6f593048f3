"""Exact decimals on SQLite: a collation and usage aggregates.

SQLite has no decimal type. Tally's decimal columns are TEXT holding the
decimal written out in full (meters/fields.py, `ExactDecimalField`), which
keeps every digit; this module teaches each SQLite connection to compute with
that text exactly:

- the collation `tally_decimal`, declared on those columns, compares two texts
  as decimals, so comparisons, ORDER BY, MIN, MAX and CHECK constraints on the
  column are numeric and exact ("10" after "9");
- the aggregates `exact_sum`, `exact_max` and `exact_min` add or compare the
  values exactly and answer with text. SQLite's own SUM would turn each text
  into a double and add doubles (99999999999.9 + 0.000000001 comes back as
  99999999999.9).

`ExactSum`, `ExactMax` and `ExactMin` are the ORM expressions: those functions
on SQLite, plain SUM/MAX/MIN on PostgreSQL, whose `numeric` is exact already.
The aggregates also accept a REAL or INTEGER (an old NUMERIC column, or a
column of a database not yet migrated), read the way Django reads one.
"""

from __future__ import annotations

from decimal import Context, Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Aggregate, TextField

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.expressions import Expression
    from django.db.models.sql.compiler import SQLCompiler, _AsSqlType

# The SQLite collation of every ExactDecimalField column (meters/fields.py).
DECIMAL_COLLATION = "tally_decimal"
PLACES = 9  # UsageEvent.value's decimal_places
NANO = Decimal(1).scaleb(-PLACES)
# How Django's SQLite backend reads a REAL from a NUMERIC decimal column (its
# decimal converter): the float to 15 significant digits, then the column's places.
_FROM_FLOAT = Context(prec=15)
_WIDE = Context(prec=60)


def stored_decimal(value: int | float | str) -> Decimal:
    """The decimal a stored SQLite value stands for, to the column's 9 places."""
    if isinstance(value, float):
        exact = _FROM_FLOAT.create_decimal_from_float(value)
    else:
        exact = Decimal(value)  # the column's text, or an INTEGER
    return exact.quantize(NANO, context=_WIDE)


def _decimal_order(left: str, right: str) -> int:
    """The `tally_decimal` collation: -1, 0 or 1 as left is below, equal to or
    above right as decimals."""
    a, b = _order_key(left), _order_key(right)
    return (a > b) - (a < b)


def _order_key(text: str) -> tuple[int, Decimal | str]:
    # Text that is not a decimal (Tally never writes one) sorts after every
    # decimal, by its characters, rather than failing the whole query.
    try:
        value = Decimal(text)
    except ArithmeticError:
        return (1, text)
    return (0, value) if value.is_finite() else (1, text)


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
        self.found: int | None = None

    def keeps(self, candidate: int, found: int) -> bool:
        return candidate > found

    def step(self, value: int | float | str | None) -> None:
        if value is not None:
            nanos = _nanos(value)
            if self.found is None or self.keeps(nanos, self.found):
                self.found = nanos

    def finalize(self) -> str | None:
        return None if self.found is None else _text(self.found)


class _MinAggregate(_MaxAggregate):
    """sqlite3 aggregate: the smallest non-NULL value, compared as decimals, as text."""

    def keeps(self, candidate: int, found: int) -> bool:
        return candidate < found


def register_exact_aggregates(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    """`connection_created` receiver: teach each new SQLite connection the
    decimal collation and the exact aggregates (PostgreSQL needs nothing)."""
    if connection.vendor == "sqlite":
        connection.connection.create_collation(DECIMAL_COLLATION, _decimal_order)
        connection.connection.create_aggregate("exact_sum", 1, _SumAggregate)
        connection.connection.create_aggregate("exact_max", 1, _MaxAggregate)
        connection.connection.create_aggregate("exact_min", 1, _MinAggregate)


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


class ExactMin(_ExactAggregate):
    function = "MIN"
    sqlite_function = "exact_min"
    name = "ExactMin"
