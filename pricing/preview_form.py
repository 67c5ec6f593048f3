"""The rate editor's preview panel: its inputs (quantities typed, or a customer
whose usage to take) and what it shows. The maths is pricing.preview; this
module reads the inputs and, for a customer, their usage from the database the
way invoices.builder does, in the current period pricing.usage_windows gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from django.http import QueryDict

from meters.models import Meter
from meters.selectors import meter_events, usage_partials
from pricing.forms import RateForm
from pricing.preview import OTHER, Preview, draft_spec, parse_quantity, price_usage
from pricing.rate_forms import MatrixRow
from pricing.rating import Aggregation, UsageGroup, project_usage
from pricing.schema import RateDraft
from pricing.usage_windows import PreviewCustomer, usage_windows


@dataclass(frozen=True)
class PreviewUsage:
    groups: list[UsageGroup]
    coverage: Fraction = Fraction(1)
    note: str = ""
    error: str = ""


@dataclass(frozen=True)
class QuantityInput:
    name: str
    label: str
    value: str


class PreviewInputs:
    """What to price: a quantity typed (one per matrix row, and one for any
    other combination when the matrix has a default price), or the usage so
    far this period of a customer picked from the list."""

    def __init__(self, data: QueryDict | None, form: RateForm) -> None:
        def get(name: str) -> str:
            return str(data.get(name, "")).strip() if data is not None else ""

        self.form = form
        self.customers = usage_windows().customers()
        chosen = get("preview-customer")
        self.customer = next((c for c in self.customers if str(c.pk) == chosen), None)
        self.quantity = QuantityInput("preview-quantity", "Quantity", get("preview-quantity"))
        rows = [r for r in form.rows if not r.is_blank] if form.is_matrix else []
        self.rows: list[tuple[MatrixRow, QuantityInput]] = [
            (row, QuantityInput(name, row.combination, get(name)))
            for row, name in ((r, f"preview-qty-{r.key}") for r in rows)
        ]
        self.other = (
            QuantityInput("preview-qty-other", "Any other combination", get("preview-qty-other"))
            if form.is_matrix and form.wants_default
            else None
        )
        self.posted_signature = get("preview-rows")

    @property
    def quantities(self) -> list[QuantityInput]:
        if not self.form.is_matrix:
            return [self.quantity]
        return [q for _, q in self.rows] + ([self.other] if self.other else [])

    @property
    def signature(self) -> str:
        """What the panel's inputs were drawn for. When it changes (a customer
        picked, a row added or renamed) the response draws them again."""
        rows = ";".join(f"{row.key}={row.combination}" for row, _ in self.rows)
        customer = self.customer.pk if self.customer else ""
        return f"{customer}|{self.form.is_matrix}|{rows}|{self.other is not None}"

    @property
    def is_stale(self) -> bool:
        return self.posted_signature != self.signature

    def usage(self, draft: RateDraft, meter: Meter, now: datetime) -> PreviewUsage:
        if self.customer is not None:
            return customer_usage(self.customer, draft, meter, now)
        typed: list[tuple[tuple[str, ...], str]] = [((), self.quantity.value)]
        if draft.dimensions:
            typed = [(tuple(row.values), q.value) for row, q in self.rows]
            if self.other is not None:
                typed.append((tuple(OTHER for _ in draft.dimensions), self.other.value))
        groups = []
        for values, raw in typed:
            try:
                quantity = parse_quantity(raw)
            except ValueError as exc:
                return PreviewUsage([], error=str(exc))
            if quantity is not None:
                groups.append(UsageGroup(values, quantity))
        if not groups:
            return PreviewUsage([], error="Type a quantity to see what it would cost.")
        return PreviewUsage(groups, note="For one whole billing period.")


def customer_usage(
    customer: PreviewCustomer, draft: RateDraft, meter: Meter, now: datetime
) -> PreviewUsage:
    """The customer's usage of `meter` so far in their current period, grouped
    by the draft's dimensions, as invoices.builder.build_invoice groups it."""
    window = usage_windows().current(customer, now)
    if window is None:
        return PreviewUsage(
            [],
            error=f"{customer.name} is on no plan today, so there is no current period "
            "to take usage from.",
        )
    events = meter_events(meter, customer.customer_id, window.start, window.usage_end)
    partials = usage_partials(meter, events)
    groups = project_usage(Aggregation(meter.meter_type), partials, draft.dimensions)
    note = (
        f"{customer.name}’s usage of {meter.label} so far this period "
        f"({window.start:%-d %b %Y} to {window.end:%-d %b %Y}, on {window.plan_name})."
    )
    return PreviewUsage(groups, window.coverage, note)


@dataclass
class PreviewPanel:
    """What the panel shows: a preview, or why there is none yet."""

    inputs: PreviewInputs
    preview: Preview | None = None
    note: str = ""
    prompt: str = ""  # what to do first, e.g. type a quantity
    fix: bool = False  # the rate has errors; `problems` lists them
    problems: list[str] = field(default_factory=list)


def preview_panel(
    form: RateForm, data: QueryDict | None, currency: str, now: datetime
) -> PreviewPanel:
    """Price what the preview inputs ask for with the draft `form` builds."""
    inputs = PreviewInputs(data, form)
    if form.is_bound:  # refused on save: the messages are on the inputs above
        return PreviewPanel(inputs, fix=True)
    draft = form.preview_draft()
    if draft is None or form.chosen_meter is None:
        if form.is_incomplete:
            return PreviewPanel(inputs, prompt="Enter the prices above to see a preview.")
        return PreviewPanel(inputs, fix=True, problems=form.problem_list[:6])
    usage = inputs.usage(draft, form.chosen_meter, now)
    if usage.error:
        return PreviewPanel(inputs, prompt=usage.error)
    spec = draft_spec(draft, form.chosen_meter.label)
    preview = price_usage(spec, usage.groups, currency, usage.coverage)
    return PreviewPanel(inputs, preview, usage.note)
