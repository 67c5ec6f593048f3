"""Admin for plans and rates: read-only.

Prices are written by two doors that apply pricing.schema's rules: the plan
pages (the plan form, the rate editor) and the native API. The admin would be
a third door without them (a negative or 20-place unit price, a per-unit price
on a tiered cell, a renamed plan clashing with another in another case), so it
only shows plans, rates and prices, each with a link to where they are edited.
Deleting a rate goes through pricing.services.rate_delete, as on the plan page,
and only while its plan bills no one: a plan in use changes its prices by a
new version, effective when the operator chooses, which only the plan page
asks. A single price cannot be deleted (a matrix row is part of its rate), nor
a rate of a version that is history.

Tax rates and coupons can be added here, through the same services as their
pages and the API (pricing.taxes.tax_rate_create, pricing.coupons.
coupon_create), whose errors show on the form's fields. Their terms never
change once made, so they are then read-only, and archived (an action calling
the archive service) rather than deleted: issued invoices name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from meters.naming import describe_dimensions
from pricing.coupons import coupon_archive, coupon_create, describe
from pricing.models import Coupon, Plan, PlanVersion, PriceCell, Rate, TaxRate
from pricing.money import format_money, format_quantity, format_unit_price
from pricing.selectors import cell_price, version_charges
from pricing.services import plan_in_use, rate_delete
from pricing.taxes import tax_rate_archive, tax_rate_create

EDIT_HINT = "Plans and prices are edited in the app, where the pricing rules are checked: "


def _edit_link(plan: Plan) -> SafeString:
    return format_html(
        '{}<a href="{}">{}</a>', EDIT_HINT, plan.get_absolute_url(), f"open {plan.name}"
    )


class ReadOnlyAdmin[M: (Plan, PlanVersion, Rate, PriceCell)](admin.ModelAdmin[M]):
    """Shows, never adds or changes: has_change_permission is False, so the
    change page renders every field as text and refuses a POST (403)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


class VersionInline(admin.TabularInline[PlanVersion, Plan]):
    model = PlanVersion
    fields = ["number", "starts", "effective_at", "change"]
    readonly_fields = ["number", "starts", "effective_at", "change"]
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class RateInline(admin.TabularInline[Rate, PlanVersion]):
    model = Rate
    fk_name = "version"
    fields = ["meter", "rate_model", "dimensions", "cell_count"]
    readonly_fields = ["meter", "rate_model", "dimensions", "cell_count"]
    extra = 0
    show_change_link = True
    can_delete = False  # delete from the rate's own page, through rate_delete

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Prices")
    def cell_count(self, rate: Rate) -> int:
        return rate.cells.count()


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin[Plan]):
    list_display = [
        "name",
        "billing_period",
        "currency",
        "billing_anchor",
        "net_terms_days",
        "grace_period_hours",
        "late_usage_policy",
        "rate_count",
        "created_at",
    ]
    list_filter = ["billing_period", "currency", "billing_anchor", "late_usage_policy"]
    search_fields = ["name"]
    fields = [
        "name",
        "billing_period",
        "currency",
        "billing_anchor",
        "grace_period_hours",
        "net_terms_days",
        "late_usage_policy",
        "taxes",
        "created_at",
        "edit_in_app",
    ]
    # Its tax rates are set on the plan page (pricing.taxes.plan_tax_rates_set,
    # which keeps a plan's rates all inclusive or all exclusive): shown here.
    readonly_fields = ["taxes", "edit_in_app"]
    date_hierarchy = "created_at"
    inlines = [VersionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        queryset: QuerySet[Plan] = super().get_queryset(request)
        return queryset.annotate(rate_count=Count("current_version__rates"))

    @admin.display(description="Rates", ordering="rate_count")
    def rate_count(self, plan: Plan) -> int:
        count: int = plan.rate_count  # type: ignore[attr-defined]
        return count

    def has_delete_permission(self, request: HttpRequest, obj: Plan | None = None) -> bool:
        # The app has no way to delete a plan, so neither has the admin.
        return False

    @admin.display(description="Tax rates")
    def taxes(self, plan: Plan) -> str:
        return ", ".join(str(rate) for rate in plan.tax_rates.all()) or "None"

    @admin.display(description="Edit")
    def edit_in_app(self, plan: Plan) -> SafeString:
        return _edit_link(plan)


def _combination(cell: PriceCell) -> str:
    """`model: model a, type: input`, not the escaped dimension_key."""
    values = dict(zip(cell.rate.dimensions, cell.dimension_values, strict=False))
    return describe_dimensions(values) or "all usage"


def _amount(value: Decimal | None, currency: str) -> str:
    """A stored price or fee as the plan page writes it (`$0.000002`, not
    `0.000002000000000`)."""
    return "—" if value is None else format_unit_price(value, currency)


def _price(cell: PriceCell) -> str:
    """The cell's price as the plan page states it (its model, not just the
    unit_price column, which a tiered or package price does not use)."""
    price, currency = cell_price(cell), cell.rate.plan.currency
    if price.tiers:
        bounds = ", ".join(
            f"{'above' if t.up_to is None else f'up to {t.up_to}'}: "
            f"{format_unit_price(t.unit_price, currency)}"
            for t in price.tiers
        )
        return f"{cell.get_price_model_display()} ({bounds})"
    if cell.price_model == PriceCell.PriceModel.PACKAGE:
        cost = format_unit_price(price.package_price, currency)
        return f"{cost} per package of {price.package_size}"
    return f"{format_unit_price(price.unit_price, currency)} per unit"


class PriceCellInline(admin.TabularInline[PriceCell, Rate]):
    model = PriceCell
    fields = ["combination", "price"]
    readonly_fields = ["combination", "price"]
    extra = 0
    can_delete = False
    ordering = ["pk"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="Combination")
    def combination(self, cell: PriceCell) -> str:
        return "default price" if cell.is_default else _combination(cell)

    @admin.display(description="Price")
    def price(self, cell: PriceCell) -> str:
        return _price(cell)


@admin.register(Rate)
class RateAdmin(ReadOnlyAdmin[Rate]):
    list_display = [
        "meter",
        "plan",
        "version",
        "rate_model",
        "priced_by",
        "cell_count",
        "created_at",
    ]
    list_filter = ["plan", "meter", "rate_model"]
    search_fields = ["meter__label", "meter__api_name", "plan__name"]
    list_select_related = ["meter", "plan", "version"]
    fields = [
        "plan",
        "version",
        "meter",
        "rate_model",
        "dimensions",
        "minimum",
        "fee",
        "first_tier_fee_at_zero",
        "created_at",
        "edit_in_app",
    ]
    readonly_fields = ["minimum", "fee", "edit_in_app"]
    inlines = [PriceCellInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Rate]:
        queryset: QuerySet[Rate] = super().get_queryset(request)
        return queryset.annotate(cell_count=Count("cells"))

    def get_deleted_objects(
        self, objs: Sequence[Rate] | QuerySet[Rate], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # A rate's prices go with it (as on the plan page), though a price
        # alone cannot be deleted here.
        perms_needed.discard(str(PriceCell._meta.verbose_name))
        return deleted, counts, perms_needed, protected

    def has_delete_permission(self, request: HttpRequest, obj: Rate | None = None) -> bool:
        if obj is not None and (
            obj.version_id != obj.plan.current_version_id or plan_in_use(obj.plan)
        ):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Rate) -> None:
        rate_delete(rate=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rate]) -> None:
        # The bulk action asks no one when the change takes effect: it only
        # deletes what has_delete_permission would allow one by one.
        for rate in queryset.select_related("plan", "meter"):
            if self.has_delete_permission(request, rate):
                rate_delete(rate=rate)

    @admin.display(description="Priced by")
    def priced_by(self, rate: Rate) -> str:
        return ", ".join(rate.dimensions) or "—"

    @admin.display(description="Prices", ordering="cell_count")
    def cell_count(self, rate: Rate) -> int:
        count: int = rate.cell_count  # type: ignore[attr-defined]
        return count

    @admin.display(description="Minimum charge")
    def minimum(self, rate: Rate) -> str:
        return _amount(rate.minimum_charge, rate.plan.currency)

    @admin.display(description="Base fee")
    def fee(self, rate: Rate) -> str:
        return _amount(rate.base_fee, rate.plan.currency)

    @admin.display(description="Edit")
    def edit_in_app(self, rate: Rate) -> SafeString:
        return _edit_link(rate.plan)


@admin.register(PlanVersion)
class PlanVersionAdmin(ReadOnlyAdmin[PlanVersion]):
    list_display = ["plan", "number", "starts", "effective_at", "change"]
    list_filter = ["plan", "starts"]
    search_fields = ["plan__name", "change"]
    list_select_related = ["plan"]
    fields = [
        "plan",
        "number",
        "starts",
        "effective_at",
        "change",
        "minimum",
        "fees",
        "created_at",
        "edit_in_app",
    ]
    readonly_fields = ["minimum", "fees", "edit_in_app"]
    inlines = [RateInline]

    def has_delete_permission(self, request: HttpRequest, obj: PlanVersion | None = None) -> bool:
        return False  # a version is history: invoices were priced by it

    @admin.display(description="Invoice minimum")
    def minimum(self, version: PlanVersion) -> str:
        return _amount(version.invoice_minimum, version.plan.currency)

    @admin.display(description="One-time fees")
    def fees(self, version: PlanVersion) -> str:
        currency = version.plan.currency
        return (
            ", ".join(
                f"{fee.description} {format_money(fee.amount, currency)}"
                for fee in version_charges(version).one_time_fees
            )
            or "None"
        )

    @admin.display(description="Edit")
    def edit_in_app(self, version: PlanVersion) -> SafeString:
        return _edit_link(version.plan)


@admin.register(PriceCell)
class PriceCellAdmin(ReadOnlyAdmin[PriceCell]):
    list_display = ["rate", "combination", "price"]
    list_filter = ["rate__plan", "rate__meter"]
    search_fields = ["dimension_key", "rate__meter__label", "rate__plan__name"]
    list_select_related = ["rate__plan", "rate__meter"]
    fields = [
        "rate",
        "combination",
        "price",
        "price_model",
        "unit",
        "tiers",
        "free",
        "edit_in_app",
    ]
    readonly_fields = ["combination", "price", "unit", "free", "edit_in_app"]

    def has_delete_permission(self, request: HttpRequest, obj: PriceCell | None = None) -> bool:
        # A matrix row belongs to its rate: delete or re-create the whole rate.
        return False

    @admin.display(description="Combination")
    def combination(self, cell: PriceCell) -> str:
        return "default price" if cell.is_default else _combination(cell)

    @admin.display(description="Price", ordering="unit_price")
    def price(self, cell: PriceCell) -> str:
        return _price(cell)

    @admin.display(description="Unit price")
    def unit(self, cell: PriceCell) -> str:
        return _amount(cell.unit_price, cell.rate.plan.currency)

    @admin.display(description="Free units")
    def free(self, cell: PriceCell) -> str:
        return format_quantity(cell.free_units)

    @admin.display(description="Edit")
    def edit_in_app(self, cell: PriceCell) -> SafeString:
        return _edit_link(cell.rate.plan)


# Tax rates and coupons: added through their services, then read-only.


def _add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """The service's errors next to the fields they name (any other beside
    the whole form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


class TaxRateAddForm(forms.ModelForm[TaxRate]):
    """Saving is tax_rate_create, called once the fields parse, so its rules
    (and wording) are the only ones: the model's own validation is not run.
    The admin's add view runs in a transaction, so what the service stored is
    undone if anything after it fails."""

    # Plain text, so the service's rules (and wording) judge them, not a slug
    # or a decimal field's own.
    code = forms.CharField(help_text=TaxRate._meta.get_field("code").help_text)
    percentage = forms.CharField(help_text="20 for 20%.")

    class Meta:
        model = TaxRate
        fields = ["code", "name", "percentage", "country", "inclusive"]

    def _post_clean(self) -> None:
        if self.errors:
            return
        data = self.cleaned_data
        try:
            self.instance = tax_rate_create(
                code=data["code"],
                name=data["name"],
                percentage=data["percentage"],
                country=str(data.get("country") or ""),
                inclusive=bool(data.get("inclusive")),
            )
        except ValidationError as exc:
            _add_service_errors(self, exc)


class CouponAddForm(forms.ModelForm[Coupon]):
    """Saving is coupon_create, as TaxRateAddForm is tax_rate_create."""

    code = forms.CharField(help_text=Coupon._meta.get_field("code").help_text)
    value = forms.CharField(help_text="A percentage (10 for 10%), or an amount in the currency.")

    class Meta:
        model = Coupon
        fields = [
            "code",
            "name",
            "kind",
            "value",
            "currency",
            "duration",
            "duration_periods",
            "meters",
            "max_redemptions",
            "redeem_by",
        ]

    def _post_clean(self) -> None:
        if self.errors:
            return
        data = self.cleaned_data
        try:
            self.instance = coupon_create(
                code=data["code"],
                name=data["name"],
                kind=data["kind"],
                value=data["value"],
                currency=data.get("currency") or "",
                duration=data["duration"],
                duration_periods=data.get("duration_periods"),
                meters=list(data.get("meters") or []),
                max_redemptions=data.get("max_redemptions"),
                redeem_by=data.get("redeem_by"),
                now=timezone.now(),
            )
        except ValidationError as exc:
            _add_service_errors(self, exc)


class AddedByServiceAdmin[M: TaxRate | Coupon](admin.ModelAdmin[M]):
    """Adds through `add_form` (whose validation is the service call that
    stores the record, inside the admin's transaction), then only shows: no
    change (the page is read-only and a POST is refused), no delete; the
    Archive action calls the archive service."""

    add_form: type[forms.ModelForm[M]]
    add_fields: tuple[str, ...]
    shown_fields: tuple[str, ...]

    def get_form(
        self, request: HttpRequest, obj: M | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[M]]:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: M | None = None) -> tuple[str, ...]:
        return self.add_fields if obj is None else self.shown_fields

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False  # invoices name it: archive it instead

    def has_archive_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def save_model(self, request: HttpRequest, obj: M, form: Any, change: bool) -> None:
        pass  # the add form's service call stored it

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # and its meters

    @admin.display(description="Archived", boolean=True, ordering="archived_at")
    def archived(self, obj: M) -> bool:
        return obj.archived_at is not None

    def _archived_message(self, request: HttpRequest, archived: int) -> None:
        one, many = self.opts.verbose_name, self.opts.verbose_name_plural
        if archived:
            what = one if archived == 1 else many
            self.message_user(request, f"Archived {archived} {what}.", messages.SUCCESS)
        else:
            self.message_user(request, f"The selected {many} were already archived.")


@admin.register(TaxRate)
class TaxRateAdmin(AddedByServiceAdmin[TaxRate]):
    add_form = TaxRateAddForm
    add_fields = ("code", "name", "percentage", "country", "inclusive")
    shown_fields = (
        "code",
        "name",
        "rate",
        "jurisdiction",
        "inclusive",
        "archived_at",
        "created_at",
    )
    readonly_fields = ["rate", "jurisdiction"]
    list_display = ["code", "name", "rate", "jurisdiction", "inclusive", "archived"]
    # The countries in use, not the 250 a country field could hold.
    list_filter = ["inclusive", ("country", admin.AllValuesFieldListFilter)]
    search_fields = ["code", "name"]
    actions = ["archive"]

    @admin.display(description="Percentage", ordering="percentage")
    def rate(self, rate: TaxRate) -> str:
        return f"{format_quantity(rate.percentage)}%"

    @admin.display(description="Country", ordering="country")
    def jurisdiction(self, rate: TaxRate) -> str:
        return str(rate.country.name) if rate.country else "Everywhere"

    @admin.action(description="Archive the selected tax rates", permissions=["archive"])
    def archive(self, request: HttpRequest, queryset: QuerySet[TaxRate]) -> None:
        now = timezone.now()
        archived = 0
        for rate in queryset.filter(archived_at__isnull=True):
            tax_rate_archive(rate=rate, now=now)
            archived += 1
        self._archived_message(request, archived)


@admin.register(Coupon)
class CouponAdmin(AddedByServiceAdmin[Coupon]):
    add_form = CouponAddForm
    add_fields = tuple(CouponAddForm.Meta.fields)
    shown_fields = (
        "code",
        "name",
        "terms",
        "discounts",
        "max_redemptions",
        "redeem_by",
        "archived_at",
        "created_at",
    )
    readonly_fields = ["terms", "discounts"]
    list_display = [
        "code",
        "name",
        "terms",
        "discounts",
        "max_redemptions",
        "redeem_by",
        "archived",
    ]
    list_filter = ["kind", "duration", "currency"]
    search_fields = ["code", "name"]
    actions = ["archive"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Coupon]:
        queryset: QuerySet[Coupon] = super().get_queryset(request)
        return queryset.prefetch_related("meters")

    @admin.display(description="Terms")
    def terms(self, coupon: Coupon) -> str:
        return describe(coupon)

    @admin.display(description="Discounts")
    def discounts(self, coupon: Coupon) -> str:
        meters = [meter.label for meter in coupon.meters.all()]
        return ", ".join(meters) if meters else "The whole invoice"

    @admin.action(description="Archive the selected coupons", permissions=["archive"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        now = timezone.now()
        archived = 0
        for coupon in queryset.filter(archived_at__isnull=True):
            coupon_archive(coupon=coupon, now=now)
            archived += 1
        self._archived_message(request, archived)
