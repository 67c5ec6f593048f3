"""Invoices in the Django admin: read-only. Issued invoices never change
(the database refuses it too); every write goes through the invoice pages,
which call invoices/services.py. Coupons are given and removed on the
customer page or through the API (invoices.discounts, which checks the
coupon's limits under a lock), so the admin only lists who holds which; an
invoice's adjustments (fees, true-up, discounts, taxes) are written with its
lines at finalization and frozen like them. A prepaid commitment is made
(with its invoice, issued at once) by invoices.commitments; what it has paid
is its adjustments."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from invoices.commitments import describe as describe_commitment
from invoices.models import (
    Commitment,
    CouponRedemption,
    CreditGrant,
    CreditLedgerEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceAdjustment,
    InvoiceLine,
    InvoiceStatusChange,
)
from pricing.money import format_quantity


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InvoiceLineInline(_ReadOnly, admin.TabularInline[InvoiceLine, Invoice]):
    model = InvoiceLine
    fk_name = "invoice"
    fields = readonly_fields = (
        "position",
        "kind",
        "section",
        "description",
        "quantity",
        "unit_price",
        "amount",
    )
    extra = 0


class AdjustmentInline(_ReadOnly, admin.TabularInline[InvoiceAdjustment, Invoice]):
    model = InvoiceAdjustment
    fields = readonly_fields = (
        "position",
        "kind",
        "line_key",
        "description",
        "base",
        "percentage",
        "jurisdiction",
        "inclusive",
        "amount",
    )
    extra = 0


class StatusChangeInline(_ReadOnly, admin.TabularInline[InvoiceStatusChange, Invoice]):
    model = InvoiceStatusChange
    fields = readonly_fields = (
        "at",
        "from_status",
        "to_status",
        "actor",
        "note",
    )
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(_ReadOnly, admin.ModelAdmin[Invoice]):
    list_display = [
        "__str__",
        "customer",
        "kind",
        "period_start",
        "status",
        "issue_date",
        "total",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["number", "customer__name", "customer__customer_id"]
    inlines = [InvoiceLineInline, AdjustmentInline, StatusChangeInline]


class CreditNoteLineInline(_ReadOnly, admin.TabularInline[CreditNoteLine, CreditNote]):
    model = CreditNoteLine
    fields = readonly_fields = (
        "invoice_line",
        "description",
        "amount",
    )
    extra = 0


@admin.register(CreditNote)
class CreditNoteAdmin(_ReadOnly, admin.ModelAdmin[CreditNote]):
    list_display = ["number", "invoice", "issued_at", "total", "created_by"]
    search_fields = ["number", "invoice__number"]
    inlines = [CreditNoteLineInline]


class CreditLedgerInline(_ReadOnly, admin.TabularInline[CreditLedgerEntry, CreditGrant]):
    model = CreditLedgerEntry
    fields = readonly_fields = ("at", "kind", "amount", "invoice", "actor", "note")
    extra = 0


@admin.register(CreditGrant)
class CreditGrantAdmin(_ReadOnly, admin.ModelAdmin[CreditGrant]):
    """Grants are written once by invoices.credits (the customer page, the
    API); what happens to them after is their ledger."""

    list_display = [
        "description",
        "customer",
        "kind",
        "currency",
        "amount",
        "effective_at",
        "expires_at",
        "priority",
    ]
    list_filter = ["kind", "currency"]
    search_fields = ["description", "purchase_reference", "customer__name", "customer__customer_id"]
    inlines = [CreditLedgerInline]


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(_ReadOnly, admin.ModelAdmin[CreditLedgerEntry]):
    list_display = ["at", "grant", "kind", "amount", "invoice", "actor"]
    list_filter = ["kind"]
    search_fields = ["grant__description", "grant__customer__name", "invoice__number"]
    list_select_related = ["grant", "invoice"]


@admin.register(CouponRedemption)
class CouponRedemptionAdmin(_ReadOnly, admin.ModelAdmin[CouponRedemption]):
    """Written by invoices.discounts (coupon_redeem, coupon_remove) from the
    customer page and the API."""

    list_display = ["coupon", "customer", "assignment", "redeemed_at", "removed_at"]
    list_filter = ["coupon"]
    search_fields = ["coupon__code", "customer__name", "customer__customer_id"]
    list_select_related = ["coupon", "customer", "assignment__plan", "assignment__customer"]


@admin.register(InvoiceAdjustment)
class InvoiceAdjustmentAdmin(_ReadOnly, admin.ModelAdmin[InvoiceAdjustment]):
    list_display = ["invoice", "position", "kind", "line_key", "description", "amount"]
    list_filter = ["kind"]
    search_fields = ["invoice__number", "description"]
    list_select_related = ["invoice"]


@admin.register(Commitment)
class CommitmentAdmin(_ReadOnly, admin.ModelAdmin[Commitment]):
    list_display = ["term", "customer", "assignment", "discount", "invoice", "created_by"]
    list_filter = ["currency"]
    search_fields = ["customer__name", "customer__customer_id", "invoice__number"]
    list_select_related = ["customer", "assignment__plan", "assignment__customer", "invoice"]

    @admin.display(description="Commitment", ordering="starts_at")
    def term(self, commitment: Commitment) -> str:
        return describe_commitment(commitment)

    @admin.display(description="Discount", ordering="discount_percent")
    def discount(self, commitment: Commitment) -> str:
        return f"{format_quantity(commitment.discount_percent)}%"
