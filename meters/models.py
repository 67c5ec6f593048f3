from __future__ import annotations

import json
from typing import TypeAlias

from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from meters import kinds
from meters.fields import ExactDecimalField
from meters.naming import API_NAME_PATTERN
from meters.quantities import format_quantity


class Meter(models.Model):
    # The enum itself, not a copy (a `type` statement would hide its members).
    MeterType: TypeAlias = kinds.MeterType  # noqa: UP040

    label = models.CharField(max_length=100, help_text="Shown on invoices, e.g. “LLM tokens”.")
    api_name = models.CharField(
        "API name",
        max_length=100,
        unique=True,
        validators=[
            RegexValidator(
                API_NAME_PATTERN,
                "Use lowercase letters, digits and single hyphens, e.g. “llm-tokens”.",
            )
        ],
        help_text="What usage events send as meterApiName. Matched ignoring case, "
        "with spaces and underscores read as hyphens.",
    )
    meter_type = models.CharField(
        max_length=20, choices=[(t.value, t.label) for t in MeterType], default=MeterType.COUNT
    )
    dimensions = models.JSONField(
        default=list, blank=True, help_text="Names of the dimensions events may carry."
    )
    unique_dimension = models.CharField(
        max_length=100,
        blank=True,
        help_text="For a unique-count meter: the dimension whose distinct values are counted.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(api_name=""), name="meters_meter_api_name_not_empty"
            ),
            models.CheckConstraint(
                condition=~models.Q(meter_type="unique_count") | ~models.Q(unique_dimension=""),
                name="meters_meter_unique_count_has_dimension",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def get_absolute_url(self) -> str:
        return reverse("meters:detail", args=[self.pk])

    @property
    def example_records(self) -> str:
        """A one-record JSON array in the upload format, for this meter."""
        record: dict[str, object] = {"meterApiName": self.api_name, "meterValue": 1000}
        if self.dimensions:
            record["dimensions"] = dict.fromkeys(self.dimensions, "…")
        return json.dumps([record], ensure_ascii=False)


class UsageEvent(models.Model):
    """One accepted usage record. Immutable once stored.

    `customer_id` is the external ID exactly as sent, not a foreign key, so usage
    that arrives before its customer exists is kept rather than lost.
    `dimension_key` is derived from `dimensions` (meters.naming.dimension_key) so
    both SQLite and PostgreSQL can group and index on it.
    """

    # No index of its own: the unique constraint and both meter indexes below
    # begin with meter_id, and each index costs every insert.
    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    customer_id = models.CharField(max_length=255)
    value = ExactDecimalField(max_digits=30, decimal_places=9)
    event_time = models.DateTimeField()
    dimensions = models.JSONField(default=dict, blank=True)
    dimension_key = models.CharField(max_length=1000, blank=True, default="")
    unique_id = models.CharField(max_length=255, help_text="Idempotency key, unique per meter.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-event_time", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "unique_id"], name="meters_usageevent_unique_per_meter"
            ),
        ]
        indexes = [
            models.Index(
                fields=["meter", "customer_id", "event_time"],
                name="meters_event_meter_cust_time",
            ),
            models.Index(fields=["customer_id", "event_time"], name="meters_event_cust_time"),
            # The meter page lists a meter's latest events first.
            models.Index(fields=["meter", "-event_time", "-id"], name="meters_event_meter_time"),
        ]

    def __str__(self) -> str:
        quantity = format_quantity(self.value)  # "1,000", not "1000.000000000"
        return f"{self.meter.api_name} {quantity} for {self.customer_id} at {self.event_time}"


class RejectedRecord(models.Model):
    """A usage record that was refused, kept with its reason so an operator can
    see what a sender got wrong (the sender got the same reason back)."""

    class Source(models.TextChoices):
        API = "api", "Ingestion API"
        UPLOAD = "upload", "Upload in the UI"

    # One time for a whole request, so its records list in their order.
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    batch_id = models.CharField(max_length=64, help_text="Groups the records of one request.")
    index = models.PositiveIntegerField(help_text="Position of the record in its request.")
    meter = models.ForeignKey(
        Meter, on_delete=models.SET_NULL, null=True, blank=True, related_name="rejections"
    )
    meter_api_name = models.CharField(max_length=255, blank=True)
    customer_id = models.CharField(max_length=255, blank=True)
    field = models.CharField(max_length=50, blank=True)
    reason = models.CharField(max_length=500)
    record = models.JSONField(null=True, blank=True, help_text="The record as received.")

    class Meta:
        ordering = ["-received_at", "index"]
        indexes = [models.Index(fields=["field", "-received_at"], name="meters_rejected_field")]

    def __str__(self) -> str:
        return f"record {self.index + 1} of {self.batch_id}: {self.reason}"


class ApiKey(models.Model):
    """A machine's credential for the HTTP API. Only a SHA-256 of the key is
    stored (keys are 256-bit random, so a fast hash is safe); the key itself is
    shown once, when it is created."""

    class Scope(models.TextChoices):
        # Each scope includes nothing of the others but `full`, which is everything.
        INGEST = "ingest", "Ingest (send usage, add or update customers)"
        READ = "read", "Read (every GET, usage queries)"
        FULL = "full", "Full (everything)"

    name = models.CharField(max_length=100, help_text="Who or what uses this key.")
    prefix = models.CharField(
        max_length=12, help_text="The key's first characters, to recognize it."
    )
    # New keys get the least privilege that keeps Amberflo's SDK ingesting;
    # migration 0006 gives keys that existed before scopes `full`.
    scope = models.CharField(
        max_length=10,
        choices=Scope.choices,
        default=Scope.INGEST,
        help_text="What the key may do: ingest usage, read, or everything.",
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
