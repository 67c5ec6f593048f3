"""Invoices in the Django admin: read-only. Issued invoices never change
(the database refuses it too); every write goes through the invoice pages,
which call invoices/services.py."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from invoices.models import (
    CreditGrant,
    CreditLedgerEntry,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    InvoiceStatusChange,
)


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
    list_display = ["__str__", "customer", "period_start", "status", "issue_date", "total"]
    list_filter = ["status"]
    search_fields = ["number", "customer__name", "customer__customer_id"]
    inlines = [InvoiceLineInline, StatusChangeInline]


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
