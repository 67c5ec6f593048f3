"""The customers ingestion and the upload form see (meters.customer_directory):
settings.CUSTOMER_DIRECTORY names Directory, so meters never imports this app.
"""

from __future__ import annotations

from collections.abc import Collection

from billing_site.audit import DOOR_INGEST, audit_created
from customers.models import Customer
from meters import customer_directory

# IDs per query, so a batch of thousands stays within the parameters a query may have.
LOOKUP_CHUNK = 500


class Directory(customer_directory.CustomerDirectory):
    """Customer rows. Subclasses the protocol so mypy checks every signature."""

    def known(self, customer_ids: Collection[str]) -> set[str]:
        known: set[str] = set()
        ids = sorted(customer_ids)
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK]
            known.update(
                Customer.objects.filter(customer_id__in=chunk).values_list("customer_id", flat=True)
            )
        return known

    def create(self, customer_ids: Collection[str]) -> None:
        if not customer_ids:
            return
        new = [
            Customer(name=cid[:200], customer_id=cid, created_by_ingestion=True)
            # Sorted, so concurrent requests lock the same rows in the same order.
            for cid in sorted(customer_ids)
        ]
        # created meanwhile by another request: fine, and not ours to log.
        Customer.objects.bulk_create(new, ignore_conflicts=True)
        # bulk_create sends no signals and, ignoring conflicts, does not say which
        # rows it inserted. Each object got its own created_at (auto_now_add, to
        # the microsecond) before the insert: a stored row carrying that exact
        # time is one this call inserted, not a concurrent request's.
        stamped = {c.customer_id: c.created_at for c in new}
        ids = sorted(stamped)
        inserted: list[Customer] = []
        for start in range(0, len(ids), LOOKUP_CHUNK):
            rows = Customer.objects.filter(customer_id__in=ids[start : start + LOOKUP_CHUNK])
            inserted += [c for c in rows if c.created_at == stamped[c.customer_id]]
        audit_created(inserted, door=DOOR_INGEST)

    def choices(self) -> list[tuple[str, str]]:
        customers = Customer.objects.order_by("name").only("name", "customer_id")
        return [(c.customer_id, str(c)) for c in customers]
