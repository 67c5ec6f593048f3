"""Admin for plans and rates.

Rates and their matrices are created on the plan page, which validates the
whole rate with pricing.schema.read_rate before pricing.services.rate_save
stores it; the admin shows them, edits prices and deletes. It never adds a
cell, because a cell's dimension_key must be derived from its values.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from pricing.models import Plan, PriceCell, Rate
from pricing.money import format_unit_price


class RateInline(admin.TabularInline[Rate, Plan]):
    model = Rate
    fields = ["meter", "rate_model", "dimensions", "cell_count"]
    readonly_fields = ["meter", "rate_model", "dimensions", "cell_count"]
    extra = 0
    show_change_link = True
    can_delete = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Prices")
    def cell_count(self, rate: Rate) -> int:
        return rate.cells.count()


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ["name", "billing_period", "currency", "rate_count", "created_at"]
    list_filter = ["billing_period", "currency"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"
    inlines = [RateInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        queryset: QuerySet[Plan] = super().get_queryset(request)
        return queryset.annotate(rate_count=Count("rates"))

    @admin.display(description="Rates", ordering="rate_count")
    def rate_count(self, plan: Plan) -> int:
        count: int = plan.rate_count  # type: ignore[attr-defined]
        return count


def _combination(cell: PriceCell) -> str:
    return " · ".join(cell.dimension_values) or "all usage"


class PriceCellInline(admin.TabularInline[PriceCell, Rate]):
    model = PriceCell
    fields = ["combination", "unit_price"]
    readonly_fields = ["combination"]
    extra = 0
    ordering = ["pk"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Combination")
    def combination(self, cell: PriceCell) -> str:
        return _combination(cell)


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin[Rate]):
    list_display = ["meter", "plan", "rate_model", "priced_by", "cell_count", "created_at"]
    list_filter = ["plan", "meter", "rate_model"]
    search_fields = ["meter__label", "meter__api_name", "plan__name"]
    list_select_related = ["meter", "plan"]
    readonly_fields = ["plan", "meter", "rate_model", "dimensions", "created_at"]
    inlines = [PriceCellInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Add rates from the plan page, which checks the pricing matrix.
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rate]:
        queryset: QuerySet[Rate] = super().get_queryset(request)
        return queryset.annotate(cell_count=Count("cells"))

    @admin.display(description="Priced by")
    def priced_by(self, rate: Rate) -> str:
        return ", ".join(rate.dimensions) or "—"

    @admin.display(description="Prices", ordering="cell_count")
    def cell_count(self, rate: Rate) -> int:
        count: int = rate.cell_count  # type: ignore[attr-defined]
        return count


@admin.register(PriceCell)
class PriceCellAdmin(admin.ModelAdmin[PriceCell]):
    list_display = ["rate", "combination", "price", "dimension_key"]
    list_filter = ["rate__plan", "rate__meter"]
    search_fields = ["dimension_key", "rate__meter__label", "rate__plan__name"]
    list_select_related = ["rate__plan", "rate__meter"]
    readonly_fields = ["rate", "dimension_values", "dimension_key"]
    fields = ["rate", "dimension_values", "dimension_key", "unit_price"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Combination")
    def combination(self, cell: PriceCell) -> str:
        return _combination(cell)

    @admin.display(description="Unit price", ordering="unit_price")
    def price(self, cell: PriceCell) -> str:
        return format_unit_price(cell.unit_price, cell.rate.plan.currency)
