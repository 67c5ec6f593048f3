from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django_countries.fields import CountryField

from pricing.invoice_steps import TaxStatus
from pricing.locales import MAX_LOCALE, locale_label
from pricing.models import Plan
from pricing.money import default_locale


class Customer(models.Model):
    name = models.CharField("customer name", max_length=200)
    customer_id = models.CharField(
        "customer ID",
        max_length=255,
        unique=True,
        help_text="Your own ID for this customer; usage events send it as customerId.",
    )
    email = models.EmailField(blank=True)
    enabled = models.BooleanField(default=True)
    traits = models.JSONField(default=dict, blank=True, help_text="Free-form text attributes.")
    net_terms_days = models.PositiveIntegerField(
        "payment terms (days)",
        null=True,
        blank=True,
        help_text="Days from issue to due date for this customer; empty uses the plan's terms.",
    )
    billing_address = models.TextField(
        blank=True, help_text="Printed on invoices as the customer's address."
    )
    # How the customer is taxed (customers.customer_rules.tax_problems).
    country = CountryField(blank=True, help_text="Where the customer is, for tax.")
    tax_id = models.CharField(
        "tax ID",
        max_length=64,
        blank=True,
        help_text="The customer's VAT or tax number, printed on invoices.",
    )
    tax_status = models.CharField(
        max_length=20,
        choices=[(s.value, s.label) for s in TaxStatus],
        default=TaxStatus.TAXABLE,
        help_text="Exempt and reverse-charge customers are charged no tax.",
    )
    # How the customer reads amounts, numbers and dates on their invoices
    # (pricing.locales); empty: the seller's (settings.SELLER_LOCALE).
    locale = models.CharField(
        max_length=MAX_LOCALE,
        blank=True,
        help_text="How amounts, numbers and dates are written on this customer's invoices "
        "(e.g. de_DE, ja_JP); empty uses yours.",
    )
    # What this customer's usage costs us, when not the default cost plan
    # (a dedicated deployment, say): pricing.costing.
    cost_plan = models.ForeignKey(
        "pricing.Plan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cost_customers",
        limit_choices_to={"kind": "cost"},
        help_text="Costs this customer's usage instead of the default cost plan.",
    )
    created_by_ingestion = models.BooleanField(
        default=False,
        help_text="Created automatically when usage first arrived for this customer ID.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(customer_id=""), name="customers_customer_id_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"

    @property
    def invoice_locale(self) -> str:
        """The locale the customer's invoices are written in: their own,
        else the seller's."""
        return self.locale or default_locale()

    @property
    def locale_label(self) -> str:
        return locale_label(self.invoice_locale)

    def get_absolute_url(self) -> str:
        return reverse("customers:detail", args=[self.pk])


class PlanAssignment(models.Model):
    """A customer is on a plan from `start_at` until `end_at` (open-ended when null).

    Invariant, enforced by the database (see migration 0002): one customer's
    assignments never overlap.
    """

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="assignments")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="assignments")
    start_at = models.DateTimeField("start date")
    end_at = models.DateTimeField("end date", null=True, blank=True)
    anchor_at = models.DateTimeField(
        "billing cycle anchor",
        null=True,
        blank=True,
        help_text="Continue the billing cycle that started here (a plan changed mid-period); "
        "empty: the cycle starts on the start date.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_at__isnull=True) | Q(end_at__gt=F("start_at")),
                name="customers_planassignment_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} on {self.plan} from {self.start_at:%Y-%m-%d}"
