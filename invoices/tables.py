from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from invoices.models import Invoice
from pricing.money import format_money, round_money

STATUS_PILL = {"draft": "", "open": "warn", "paid": "ok", "void": "", "uncollectible": "bad"}


class MoneyColumn(tables.Column):
    """Right-aligned, formatted in the row's currency; exported as the bare
    decimal (in the currency's minor unit) so a spreadsheet can add it up."""

    def __init__(self, *args: Any, draft: str = "usage to date", **kwargs: Any) -> None:
        attrs = {"th": {"class": "num"}, "td": {"class": "num"}}
        super().__init__(*args, attrs=attrs, empty_values=(), **kwargs)
        self.draft = draft  # what a draft shows: its amounts are not stored yet

    def render(self, value: Decimal | None, record: Invoice) -> str:
        if value is None:  # a draft: its total is computed, not stored
            return format_html('<span class="muted">{}</span>', self.draft)
        return format_money(value, record.currency)

    def value(self, value: Decimal | None, record: Invoice, **kwargs: Any) -> str:
        # Stored amounts are already rounded to the minor unit: "0.14", not "0.140".
        return "" if value is None else format(round_money(value, record.currency), "f")


class InvoiceTable(tables.Table):
    number = tables.Column(
        linkify=True,
        verbose_name="Number",
        empty_values=(),
        attrs={"td": {"class": "nowrap"}, "th": {"class": "nowrap"}},
    )
    customer = tables.Column(
        accessor="customer__name", verbose_name="Customer", order_by="customer__name"
    )
    period_start = tables.DateColumn(verbose_name="Period from", format="j M Y")
    period_end = tables.DateColumn(verbose_name="to", format="j M Y")
    status = tables.Column()
    issue_date = tables.DateColumn(verbose_name="Issued", format="j M Y")
    due_date = tables.DateColumn(verbose_name="Due", format="j M Y")
    currency = tables.Column()
    total = MoneyColumn(verbose_name="Total")
    # Invoice.due: the total less the prepaid credit drawn at finalization.
    amount_due = MoneyColumn(
        verbose_name="Amount due", accessor="due", order_by="amount_due", draft="at finalization"
    )

    class Meta:
        model = Invoice
        fields = [
            "number",
            "customer",
            "period_start",
            "period_end",
            "status",
            "issue_date",
            "due_date",
            "currency",
            "total",
            "amount_due",
        ]
        order_by = "-period_start"
        empty_text = "No invoices match."

    def render_number(self, value: str | None, record: Invoice) -> SafeString | str:
        return value or mark_safe('<span class="muted">Draft</span>')

    def value_number(self, value: str | None) -> str:
        return value or "draft"

    def render_status(self, value: str, record: Invoice) -> SafeString:
        hold = " · on hold" if record.on_hold else ""
        pill = STATUS_PILL.get(record.status, "")
        return format_html('<span class="pill {}">{}{}</span>', pill, value, hold)

    def value_status(self, record: Invoice) -> str:
        return record.status


class MarginMoneyColumn(MoneyColumn):
    """A margin report figure (invoices.margin_report.MarginRow), in the row's currency."""

    def render(self, value: Decimal | None, record: Any) -> str:
        return format_money(value, record.currency) if value is not None else ""

    def value(self, value: Decimal | None, record: Any, **kwargs: Any) -> str:
        return "" if value is None else format(round_money(value, record.currency), "f")


class MarginTable(tables.Table):
    """The margin report's rows: the costed lines' revenue, cost and margin,
    and beside them the revenue of the lines whose cost is not known (never
    counted as a zero cost)."""

    label = tables.Column(verbose_name="Group", order_by=("label",))
    currency = tables.Column(verbose_name="Currency")
    revenue = MarginMoneyColumn(verbose_name="Revenue")
    cost = MarginMoneyColumn(verbose_name="Cost")
    margin = MarginMoneyColumn(verbose_name="Margin")
    margin_percent = tables.Column(
        verbose_name="Margin %",
        empty_values=(),
        order_by=("margin_percent_key",),
        attrs={"th": {"class": "num"}, "td": {"class": "num"}},
    )
    unknown_revenue = MarginMoneyColumn(verbose_name="Revenue, no cost known")
    unknown_lines = tables.Column(
        verbose_name="Lines, no cost known", attrs={"th": {"class": "num"}, "td": {"class": "num"}}
    )

    class Meta:
        order_by = ("currency", "label")
        empty_text = "No issued invoice lines match."
        attrs = {"class": "table margin-table"}

    def render_margin(self, value: Decimal, record: Any) -> SafeString | str:
        text = format_money(value, record.currency)
        if value < 0:
            return format_html('<span class="pill bad negative-margin">{}</span>', text)
        return text

    def value_margin(self, value: Decimal, record: Any) -> str:
        return format(round_money(value, record.currency), "f")

    def render_margin_percent(self, value: Decimal | None) -> SafeString | str:
        if value is None:
            return mark_safe('<span class="muted">—</span>')
        return f"{value}%"

    def value_margin_percent(self, value: Decimal | None) -> str:
        return "" if value is None else str(value)

    def render_unknown_lines(self, value: int) -> SafeString | str:
        if value:
            return format_html('<span class="pill warn no-cost">{}</span>', value)
        return "0"

    def value_unknown_lines(self, value: int) -> int:
        return value
