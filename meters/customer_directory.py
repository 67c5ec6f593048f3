"""What meters needs to know about customers, without importing the app that
keeps them.

Events name their customer by customerId. Ingestion must know which of those
IDs exist (an upload refuses an unknown one), the ingestion API creates the
missing ones so no usage is lost, and the upload form offers a customer for
records that name none. The customers app sits above meters (docs/
ARCHITECTURE.md, "Which app may import which"), so meters states here what it
needs, and settings.CUSTOMER_DIRECTORY names the class that provides it
(customers.directory.Directory), loaded the way Django loads EMAIL_BACKEND.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class CustomerDirectory(Protocol):
    def known(self, customer_ids: Collection[str]) -> set[str]:
        """Those of `customer_ids` that name an existing customer."""
        ...

    def create(self, customer_ids: Collection[str]) -> None:
        """Create a customer for each of `customer_ids`, named after its ID and
        marked as created by ingestion, in one insert however many there are.

        Invariant: an ID that already exists, or that a concurrent request
        creates meanwhile, is left as it is and does not fail the call; only
        the customers this call really inserted are audited (door "ingest")."""
        ...

    def choices(self) -> list[tuple[str, str]]:
        """(customerId, label) for every customer, in the order a picker lists them."""
        ...


def customer_directory() -> CustomerDirectory:
    """The directory settings.CUSTOMER_DIRECTORY names (read on each call, so
    override_settings applies; the class is loaded once per path)."""
    return _load(settings.CUSTOMER_DIRECTORY)


@cache
def _load(path: str) -> CustomerDirectory:
    directory: CustomerDirectory = import_string(path)()
    return directory
