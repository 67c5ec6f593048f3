from __future__ import annotations

from django.apps import AppConfig


class MetersConfig(AppConfig):
    name = "meters"
    verbose_name = "Meters and usage"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from meters.sqlite_functions import register_exact_aggregates

        # SQLite's decimal columns need the tally_decimal collation, and usage
        # sums go through exact_sum (meters/sqlite_functions.py, meters/fields.py).
        connection_created.connect(register_exact_aggregates, dispatch_uid="meters.exact_sum")
