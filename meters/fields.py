"""A decimal column that is exact on SQLite too.

SQLite has no decimal type: Django's `DecimalField` column there has NUMERIC
affinity, so SQLite turns `12345678901.123456789` into a double at insert and
keeps 15 significant digits of it. `ExactDecimalField` is a `DecimalField`
(same validation, form field, admin display) whose SQLite column is TEXT
holding the decimal written out in full, to the column's places
(`"12345678901.123456789"`), collated by `tally_decimal`
(meters/sqlite_functions.py): every comparison, ORDER BY, MIN, MAX and CHECK
constraint on the column compares the texts as decimals, exactly, so `"10"`
sorts after `"9"`. SUM still goes through `ExactSum`.

On PostgreSQL nothing changes: the column is `numeric(max_digits,
decimal_places)` as before.

Its internal type is not "DecimalField" on purpose: Django's SQLite backend
reads every "DecimalField" column through a float
(`DatabaseOperations.get_decimalfield_converter`), which would throw the
exactness away again, and wraps decimal expressions in CAST(… AS NUMERIC).
`from_db_value` reads the text instead.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import TYPE_CHECKING, Any

from django.db import models

from meters.sqlite_functions import DECIMAL_COLLATION

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper
    from django.db.models.expressions import Expression

# Wide enough for any value a 30-digit column holds, and for one that is too
# large for it (SQLite does not refuse it; the edge validation does).
_WIDE = Context(prec=80)
# How Django's SQLite backend read a REAL: the float to 15 significant digits.
_FROM_FLOAT = Context(prec=15)
_INTEGER = re.compile(r"-?\d+")


def exact_text(value: Decimal, decimal_places: int) -> str:
    """The column text for a value: plain notation, rounded half up to the
    column's places as PostgreSQL's numeric rounds, never "-0"."""
    rounded = value.quantize(Decimal(1).scaleb(-decimal_places), ROUND_HALF_UP, _WIDE)
    if rounded.is_zero():
        rounded = rounded.copy_abs()
    return format(rounded, "f")


class ExactDecimalField(models.DecimalField):  # type: ignore[type-arg]
    description = "Decimal number, stored exactly on every database"

    def get_internal_type(self) -> str:
        return "ExactDecimalField"

    def db_type(self, connection: BaseDatabaseWrapper) -> str:
        if connection.vendor == "sqlite":
            return "text"
        return str(connection.data_types["DecimalField"] % self.db_type_parameters(connection))

    def db_parameters(self, connection: BaseDatabaseWrapper) -> dict[str, Any]:
        params = super().db_parameters(connection)
        if connection.vendor == "sqlite":
            params["collation"] = DECIMAL_COLLATION
        return params

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        value = super().get_db_prep_value(value, connection, prepared)
        if connection.vendor == "sqlite" and isinstance(value, Decimal):
            return exact_text(value, self.decimal_places)
        return value

    def from_db_value(
        self, value: object, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            # SQLite's own SUM/AVG of the column: a double, read as Django reads one.
            return _FROM_FLOAT.create_decimal_from_float(value)
        return Decimal(str(value))  # the column text (or an integer), exactly


def sqlite_column_to_exact_text(
    cursor: CursorWrapper, *, table: str, column: str, decimal_places: int
) -> None:
    """Rewrite a column just moved from NUMERIC to TEXT in the exact text form.

    The table rebuild copied each old value as SQLite renders a number as text
    (0.1 as "0.1", 1e-09 as "1.0e-09"). An INTEGER was stored exactly and stays
    so; a REAL becomes what Django read from it before (the float to 15
    significant digits), so no stored price or usage changes its value.
    """
    cursor.execute(f'SELECT rowid, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')
    rows = []
    for rowid, text in cursor.fetchall():
        text = str(text)
        if _INTEGER.fullmatch(text):
            value = Decimal(text)
        else:
            value = _FROM_FLOAT.create_decimal_from_float(float(text))
        rows.append((exact_text(value, decimal_places), rowid))
    cursor.executemany(f'UPDATE "{table}" SET "{column}" = %s WHERE rowid = %s', rows)
