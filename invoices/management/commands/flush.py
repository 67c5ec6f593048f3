"""Django's `flush`, able to erase issued invoices: it empties the whole
database on purpose (invoices/immutability.py says why this is the one way)."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush

from invoices.immutability import erase_allowed


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with erase_allowed(options["database"]):
            super().handle(**options)
