from __future__ import annotations

from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from invoices.immutability import register_erase_flag

        connection_created.connect(register_erase_flag, dispatch_uid="invoices.erase_flag")
