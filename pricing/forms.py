"""Forms for plans and rates.

The rate form builds the rate's JSON document (pricing.schema) from what was
typed, and pricing.schema.read_rate decides whether it is valid, so the editor
and `import_plan` hold a rate to the same rules. Each Problem is put back on
the input its path names (pricing.rate_forms reads the nested inputs: the
price, each matrix row, the default price, and their tiers).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundWidget
from django.http import QueryDict
from django.utils import timezone

from meters.models import Meter
from pricing.cost_forms import effective_from_field
from pricing.models import Plan, PlanVersion, Rate
from pricing.money import format_quantity, format_unit_price
from pricing.periods import BillingAnchor, LateUsagePolicy
from pricing.price_models import TIERED_MODELS, PriceModel
from pricing.rate_forms import (
    AT_ZERO,
    MatrixRow,
    PriceEditor,
    friendly,
    read_rows,
    storage_problems,
)
from pricing.schema import (
    DEFAULT_BILLING_ANCHOR,
    DEFAULT_FIRST_TIER_FEE_AT_ZERO,
    DEFAULT_GRACE_PERIOD_HOURS,
    DEFAULT_LATE_USAGE_POLICY,
    DEFAULT_NET_TERMS_DAYS,
    MAX_GRACE_PERIOD_HOURS,
    MAX_NAME,
    MAX_NET_TERMS_DAYS,
    MAX_TEXT,
    TERM_RULES,
    Problem,
    RateDraft,
    read_rate,
)
from pricing.services import plan_name_is_taken, plan_name_taken
from pricing.versions import CHANGE_STARTS, DEFAULT_CHANGE_START, VersionStart

DIMENSIONS = Rate.RateModel.DIMENSIONS


# How a plan invoices: the same fields on the create and edit pages, checked
# by the plan document's rules (pricing.schema), so a form, a file and the API
# accept the same values.
TERM_HELP = {
    "billing_anchor": "Anniversary: each customer's periods start on the date they were put "
    "on the plan. Calendar: periods follow the calendar (the 1st of the month, quarter or "
    "year, or Monday), and the first one runs to the next such date, its base fees and "
    "minimums prorated. Fixed once a customer has been put on the plan.",
    "grace_period_hours": "After a billing period ends, its draft invoice waits this many "
    "hours for late usage, then it is finalized and issued. 0 finalizes at once; at most "
    f"{MAX_GRACE_PERIOD_HOURS} (a year).",
    "net_terms_days": "An invoice is due this many days after it is issued (net 30). "
    "A customer's own payment terms replace these.",
    "late_usage_policy": "What happens to usage that arrives after its period's invoice "
    "was issued. The issued invoice never changes.",
}


def _whole_number_field(
    label: str, maximum: int, help_text: str, required: str
) -> forms.IntegerField:
    # No min_value/max_value: the range is pricing.schema's rule, checked in
    # clean_<field> with its words; the attributes only help the browser.
    return forms.IntegerField(
        label=label,
        help_text=help_text,
        widget=forms.NumberInput(
            attrs={"min": 0, "max": maximum, "step": 1, "inputmode": "numeric", "class": "num"}
        ),
        error_messages={"required": required},
    )


def _sentence(message: str) -> str:
    """A pricing.schema message as a form shows it, next to the field: a
    sentence, without repeating what was typed."""
    message = message.split(" (got ", 1)[0]
    return message[:1].upper() + message[1:] + "."


class InvoiceTermFields(forms.Form):
    """The billing anchor, grace period, payment terms and late-usage policy
    of a plan."""

    billing_anchor = forms.ChoiceField(
        label="Billing periods start",
        choices=[(a.value, a.label) for a in BillingAnchor],
        widget=forms.RadioSelect,
        help_text=TERM_HELP["billing_anchor"],
    )

    grace_period_hours = _whole_number_field(
        "Grace period (hours)",
        MAX_GRACE_PERIOD_HOURS,
        TERM_HELP["grace_period_hours"],
        required="Enter the grace period in hours (0 for none).",
    )
    net_terms_days = _whole_number_field(
        "Payment terms (days)",
        MAX_NET_TERMS_DAYS,
        TERM_HELP["net_terms_days"],
        required="Enter the payment terms in days (0: due when issued).",
    )
    late_usage_policy = forms.ChoiceField(
        label="Late usage",
        choices=[(p.value, p.label) for p in LateUsagePolicy],
        widget=forms.RadioSelect,
        help_text=TERM_HELP["late_usage_policy"],
    )

    def _term(self, name: str) -> Any:
        value = self.cleaned_data[name]
        if problem := TERM_RULES[name](value):
            raise ValidationError(_sentence(problem))
        return value

    def clean_billing_anchor(self) -> str:
        value: str = self._term("billing_anchor")
        return value

    def clean_grace_period_hours(self) -> int:
        value: int = self._term("grace_period_hours")
        return value

    def clean_net_terms_days(self) -> int:
        value: int = self._term("net_terms_days")
        return value

    def clean_late_usage_policy(self) -> str:
        value: str = self._term("late_usage_policy")
        return value


TERM_INITIAL = {
    "billing_anchor": DEFAULT_BILLING_ANCHOR.value,
    "grace_period_hours": DEFAULT_GRACE_PERIOD_HOURS,
    "net_terms_days": DEFAULT_NET_TERMS_DAYS,
    "late_usage_policy": DEFAULT_LATE_USAGE_POLICY.value,
}


class PlanForm(InvoiceTermFields, forms.ModelForm[Plan]):
    class Meta:
        model = Plan
        fields = ["name", "billing_period", "currency", *TERM_RULES]
        widgets = {"name": forms.TextInput(attrs={"autofocus": True})}
        help_texts = {
            "name": "Shown on the plan list and when assigning a plan to a customer, "
            "e.g. “Chatbot usage plan”.",
            "billing_period": "How often customers on this plan are invoiced.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["initial"] = {**TERM_INITIAL, **kwargs.get("initial", {})}
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        # The rule plan_create, the API and the import apply (pricing.services);
        # the plan being edited (in the admin) does not clash with itself.
        name: str = self.cleaned_data["name"].strip()
        if plan_name_is_taken(name, other_than=self.instance.pk):
            raise ValidationError(plan_name_taken(name), code="unique")
        return name

    def validate_unique(self) -> None:
        # A plan's only unique field is its name, and its uniqueness is
        # clean_name's rule (and plan_create's, which catches the constraint),
        # with one message. Django's own check would answer a plan created
        # between the two with its generic wording.
        return


class PlanEditForm(InvoiceTermFields):
    """The plan's name and how it invoices; pricing.services.plan_update
    checks them by plan_create's rules."""

    name = forms.CharField(
        required=False,
        help_text=PlanForm.Meta.help_texts["name"],
        widget=forms.TextInput(attrs={"maxlength": MAX_NAME, "autofocus": True}),
    )
    field_order = ["name", *TERM_RULES]

    @classmethod
    def initial_for(cls, plan: Plan) -> dict[str, object]:
        return {"name": plan.name, **{name: getattr(plan, name) for name in TERM_RULES}}


RATE_MODEL_HELP = {
    Rate.RateModel.PER_UNIT: "One price for every unit of usage, e.g. $0.01 per API call.",
    Rate.RateModel.GRADUATED: "Each unit is priced by the tier it falls in: the first 5 "
    "at $5, the next 5 at $4, and so on.",
    Rate.RateModel.VOLUME: "The tier the whole quantity falls in prices every unit: "
    "6 units in the “up to 10” tier all cost $4.",
    Rate.RateModel.PACKAGE: "A price per block of units, e.g. $9 per 100 API calls; "
    "a partial block rounds up or down.",
    Rate.RateModel.DIMENSIONS: "A price for each combination of dimension values, "
    "e.g. per model and token type. Each row can use any of the models above.",
}
_DECIMAL = {"inputmode": "decimal", "autocomplete": "off", "class": "num"}

CHOOSE_START = "Choose when the change takes effect."


class ChangeStartForm(forms.Form):
    """When a change to the prices of a plan in use takes effect: the rate
    editor's and the delete form's one field (pricing.versions). A plan that
    bills no one changes in place, and its forms leave the field out."""

    starts = forms.ChoiceField(
        label="Takes effect",
        choices=[(start.value, start.label) for start in CHANGE_STARTS],
        initial=DEFAULT_CHANGE_START.value,
        widget=forms.RadioSelect,
        help_text="Customers are on this plan, so the change makes a new version of its "
        "prices. Finalized invoices never change; “current period” also re-prices the "
        "draft invoice of each customer’s open period.",
        error_messages={"required": CHOOSE_START, "invalid_choice": CHOOSE_START},
    )


class EffectiveFromForm(forms.Form):
    """When a change to a cost plan in use takes effect: an instant, the
    date a provider's price changes (VersionStart.FROM_INSTANT), now when
    left empty. The cost plan's rate editor and delete form ask it instead
    of ChangeStartForm's choice."""

    dated = True  # templates tell it from ChangeStartForm by this
    effective_from = effective_from_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["effective_from"].initial = timezone.localtime().replace(
            second=0, microsecond=0
        )

    def clean_effective_from(self) -> datetime:
        value: datetime | None = self.cleaned_data.get("effective_from")
        return value or timezone.now()


def change_start_words(version: PlanVersion) -> str:
    """`from the next period`: when a version's change takes effect, after a comma."""
    label = VersionStart(version.starts).label
    return label[:1].lower() + label[1:]


def version_note(version: PlanVersion, plan: Plan) -> str:
    """`version 3 of Chatbot Usage Plan, from the next period`."""
    return f"version {version.number} of {plan.name}, {change_start_words(version)}"


class RateForm(ChangeStartForm):
    """Add a rate to a plan, or change one (`rate`: its meter is then fixed).

    Bound to `data`, it validates. Given a `draft` instead (the same fields,
    posted when the meter, a model or the dimensions change, or a row or tier
    is added), it only pre-fills itself, so the form can be re-rendered for the
    new choice without showing errors; `preview_draft()` then checks it quietly.
    `in_use` (pricing.services.plan_in_use) adds "Takes effect" (ChangeStartForm).
    """

    kind = forms.ChoiceField(
        label="Rate type",
        choices=[("usage", "Usage based")],
        initial="usage",
        widget=forms.RadioSelect,
    )
    meter = forms.ModelChoiceField(queryset=Meter.objects.order_by("label"), empty_label=None)
    rate_model = forms.ChoiceField(
        label="Rate model",
        choices=Rate.RateModel.choices,
        initial=Rate.RateModel.PER_UNIT,
        widget=forms.RadioSelect,
    )
    dimensions = forms.MultipleChoiceField(
        label="Price by",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each chosen dimension becomes a column of the pricing matrix.",
    )
    has_default_price = forms.BooleanField(
        label="Default price for combinations not listed",
        required=False,
        help_text="Off: usage of a combination the matrix does not list is shown as "
        "unpriced on the invoice. On: it is charged at this price.",
    )
    minimum_charge = forms.CharField(
        label="Minimum charge per period",
        required=False,
        widget=forms.TextInput(attrs={**_DECIMAL, "placeholder": "none"}),
        help_text="When usage charges for a period come to less, a true-up line makes up "
        "the difference. Leave empty for none.",
    )
    base_fee = forms.CharField(
        label="Base fee per period",
        required=False,
        widget=forms.TextInput(attrs={**_DECIMAL, "placeholder": "none"}),
        help_text="A flat fee every billing period, prorated when a customer starts or "
        "leaves mid-period. Leave empty for none.",
    )
    first_tier_fee_at_zero = forms.BooleanField(
        label="Charge the first tier’s flat fee even at zero usage",
        required=False,
        help_text="As Stripe and OpenMeter do: a period without usage still costs the first "
        "tier’s flat fee. Off: no usage, no charge.",
    )

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        plan: Plan,
        draft: QueryDict | None = None,
        rate: Rate | None = None,
        in_use: bool = False,
    ) -> None:
        self.plan = plan
        self.rate = rate
        self.first_tier_fee_value = self._posted_at_zero(data if data is not None else draft)
        if data is not None and AT_ZERO not in data:
            # A post without the choice (a client predating it) keeps the rate's.
            data = data.copy()
            data[AT_ZERO] = "true" if self.first_tier_fee_value else "false"
        self.source = data if data is not None else draft
        if rate is not None:
            self.available_meters = [rate.meter]
        else:
            self.available_meters = list(
                Meter.objects.exclude(rates__version=plan.current_version_id).order_by("label")
            )
        self.chosen_meter = self._chosen_meter(self.source)
        self.chosen_dimensions = self._chosen_dimensions(self.source, data is None)
        super().__init__(data, initial=self._initial(draft))
        if rate is not None:
            # The rate's meter, whatever is posted: a disabled field takes its initial.
            self.fields["meter"].disabled = True
        if not in_use or plan.is_cost:
            del self.fields["starts"]
        if in_use and plan.is_cost:
            # A provider's price changes on a date: see EffectiveFromForm.
            self.fields["effective_from"] = effective_from_field()
            self.fields["effective_from"].initial = timezone.localtime().replace(
                second=0, microsecond=0
            )
        # Every meter validates, so a meter that is already priced gets a message
        # naming it; only the unpriced ones are offered.
        self.fields["meter"].widget.choices = [(m.pk, m.label) for m in self.available_meters]
        dimensions = self.fields["dimensions"]
        assert isinstance(dimensions, forms.MultipleChoiceField)
        dimensions.choices = [(d, d) for d in self.meter_dimensions]
        model = self.rate_model_value
        self.price = PriceEditor.read(self.source, "", model if model != DIMENSIONS else None)
        self.default_price = PriceEditor.read(self.source, "default-")
        self.rows = read_rows(self.source, self.chosen_dimensions)
        if draft is not None and draft.get("add_row"):
            self.rows.append(MatrixRow.blank(self.chosen_dimensions))
        if not self.rows:
            self.rows = [MatrixRow.blank(self.chosen_dimensions)]
        if draft is not None and draft.get("add_tier"):
            self._add_tier(str(draft["add_tier"]))
        self.sent_rows: list[MatrixRow] = []  # the rows the document holds
        self.problems: list[Problem] = []
        self.problem_list: list[str] = []  # "label: message", for the preview

    @property
    def meter_dimensions(self) -> list[str]:
        return list(self.chosen_meter.dimensions) if self.chosen_meter else []

    @property
    def has_meters(self) -> bool:
        return bool(self.available_meters) or Meter.objects.exists()

    @property
    def rate_model_options(self) -> list[tuple[BoundWidget, str]]:
        """Each rate-model radio with a sentence saying what it means."""
        return [(radio, RATE_MODEL_HELP[radio.data["value"]]) for radio in self["rate_model"]]

    @property
    def row_query(self) -> str:
        """Query string for pricing:matrix_row, naming the matrix columns (and
        the rate being changed, whose editor the row's "+ Add tier" posts to)."""
        meter = self.chosen_meter.pk if self.chosen_meter else ""
        query: dict[str, object] = {"meter": meter, "dimensions": self.chosen_dimensions}
        if self.rate is not None:
            query["rate"] = self.rate.pk
        return urlencode(query, doseq=True)

    @property
    def rate_model_value(self) -> str:
        value = self["rate_model"].value()
        return str(value) if value in Rate.RateModel.values else Rate.RateModel.PER_UNIT

    @property
    def is_matrix(self) -> bool:
        return self.rate_model_value == DIMENSIONS and bool(self.chosen_dimensions)

    @property
    def wants_default(self) -> bool:
        return bool(self["has_default_price"].value())

    @property
    def bad_rows(self) -> int:
        return sum(r.has_errors for r in self.rows)

    @property
    def asks_start(self) -> bool:
        return "starts" in self.fields

    @property
    def asks_effective_from(self) -> bool:
        return "effective_from" in self.fields

    @property
    def shows_first_tier_fee(self) -> bool:
        """Whether tiers are in play, so the zero-usage choice is shown: a
        tiered rate model, or a matrix (any row may be priced in tiers, and a
        row's model changes in the page without a request)."""
        return self.rate_model_value in TIERED_MODELS or self.is_matrix

    def _posted_at_zero(self, source: QueryDict | None) -> bool:
        """The zero-usage choice as posted: the editor always posts it (a
        hidden "false" before the checkbox, whose "on" comes last when ticked;
        or the value alone while the choice is hidden). Not posted: the
        stored rate's choice, or the default for a new rate."""
        if source is None or AT_ZERO not in source:
            if self.rate is not None:
                return self.rate.first_tier_fee_at_zero
            return DEFAULT_FIRST_TIER_FEE_AT_ZERO
        return str(source.get(AT_ZERO, "")).strip().lower() in ("on", "true", "1")

    def _chosen_meter(self, source: QueryDict | None) -> Meter | None:
        if self.rate is not None:
            return self.rate.meter
        raw = str(source.get("meter", "")) if source is not None else ""
        if raw.isdigit():
            chosen = Meter.objects.filter(pk=raw).first()
            if chosen is not None:
                return chosen
        return self.available_meters[0] if self.available_meters else None

    def _chosen_dimensions(self, source: QueryDict | None, is_draft: bool) -> list[str]:
        """The matrix columns, in the meter's order. A draft for another meter
        than the checkboxes were drawn for starts with all of its dimensions."""
        dimensions = self.meter_dimensions
        if source is None or (
            is_draft and source.get("dimensions_meter") != str(getattr(self.chosen_meter, "pk", ""))
        ):
            return dimensions
        posted = set(source.getlist("dimensions"))
        return [d for d in dimensions if d in posted]

    def _initial(self, draft: QueryDict | None) -> dict[str, Any]:
        initial: dict[str, Any] = {"dimensions": self.chosen_dimensions}
        if self.chosen_meter:
            initial["meter"] = self.chosen_meter.pk
        if draft is not None:
            initial["starts"] = draft.get("starts") or DEFAULT_CHANGE_START.value
            if draft.get("effective_from"):
                initial["effective_from"] = draft.get("effective_from")
            initial["rate_model"] = draft.get("rate_model") or Rate.RateModel.PER_UNIT
            initial["has_default_price"] = bool(draft.get("has_default_price"))
            for name in ("minimum_charge", "base_fee"):
                initial[name] = draft.get(name, "")
        initial[AT_ZERO] = self.first_tier_fee_value
        return initial

    def _add_tier(self, tiers_id: str) -> None:
        editors = [self.price, self.default_price, *(r.price for r in self.rows)]
        for editor in editors:
            if editor.tiers_id == tiers_id and editor.is_tiered:
                editor.add_tier()

    def _typed(self, name: str) -> str:
        return str(self.source.get(name, "")).strip() if self.source is not None else ""

    # Validation: the JSON document, pricing.schema, and problems put in place.

    def document(self, meter: Meter) -> dict[str, object]:
        """The rate as pricing.schema's JSON, built from what was typed.
        Rows left completely empty (an extra "+ Add row") are left out."""
        doc: dict[str, object] = {
            "meter": meter.api_name,
            "model": self.rate_model_value,
            "minimum_charge": self._typed("minimum_charge") or None,
            "base_fee": self._typed("base_fee") or None,
            AT_ZERO: self.first_tier_fee_value,
        }
        if self.rate_model_value != DIMENSIONS:
            doc["price"] = self.price.document()
            return doc
        self.sent_rows = [r for r in self.rows if not r.is_blank]
        doc["dimensions"] = self.chosen_dimensions
        doc["cells"] = [r.document() for r in self.sent_rows]
        doc["default_price"] = self.default_price.document() if self.wants_default else None
        return doc

    def check(self, meter: Meter) -> RateDraft | None:
        """The draft pricing.schema.read_rate makes of the inputs, or None with
        every problem put on its input."""
        meters = {meter.api_name: list(meter.dimensions)}
        draft, self.problems = read_rate(self.document(meter), "rate", meters)
        if draft is not None:
            self.problems = storage_problems(draft, "rate")
        for problem in self.problems:
            self.problem_list.append(self._place(problem))
        return None if self.problems else draft

    @property
    def is_incomplete(self) -> bool:
        """Whether every problem is only something not typed yet."""
        return all(_is_missing(p) for p in self.problems)

    def _place(self, problem: Problem) -> str:
        path = problem.path.removeprefix("rate").removeprefix(".")
        message = problem.message
        if path in ("meter", "model", "dimensions", "minimum_charge", "base_fee", "cells"):
            name = {"model": "rate_model", "cells": None}.get(path, path)
            text = (
                "Add at least one row to the pricing matrix."
                if path == "cells" and "at least one row" in message
                else friendly(path, message)
            )
            if self.is_bound:
                self.add_error(name, text)
            label = self[name].label if name else "Pricing matrix"
            return f"{label}: {text}"
        mark = self.is_bound  # a draft is checked quietly, for the preview
        if path.startswith("price"):
            label, text = self.price.place(path.removeprefix("price"), message, mark=mark)
            return f"{label}: {text}"
        if path.startswith("default_price"):
            sub = path.removeprefix("default_price")
            label, text = self.default_price.place(sub, message, mark=mark)
            return f"Default price · {label}: {text}"
        cell = re.fullmatch(r"cells\[(\d+)\](.*)", path)
        if cell is None or int(cell.group(1)) >= len(self.sent_rows):
            if self.is_bound:
                self.add_error(None, str(problem))
            return str(problem)
        row = self.sent_rows[int(cell.group(1))]
        where = f"Row {self.rows.index(row) + 1}"
        sub = cell.group(2)
        if sub.startswith(".price"):
            label, text = row.price.place(sub.removeprefix(".price"), message, mark=mark)
            return f"{where} · {label}: {text}"
        return f"{where}: {self._place_values(row, sub, message, mark)}"

    def _place_values(self, row: MatrixRow, sub: str, message: str, mark: bool) -> str:
        """A problem with a row's combination: on the value it names, else on
        the row (with `mark`); returns the message as shown."""
        empty = [c for c in row.cells if not c.value]
        long = [c for c in row.cells if len(c.value) > MAX_TEXT]
        repeated = re.search(r"already priced in row (\d+)", message)
        if long and message.startswith("each text must be at most"):
            text, cells = f"Use at most {MAX_TEXT} characters.", long
        elif empty:
            text, cells = "Enter a value for each dimension.", empty
        elif repeated and int(repeated.group(1)) <= len(self.sent_rows):
            first = self.rows.index(self.sent_rows[int(repeated.group(1)) - 1]) + 1
            text, cells = f"{row.combination} is already priced in row {first}.", []
        elif message == "is too long":
            text, cells = "These values are too long to store; shorten them.", []
        else:
            text, cells = friendly("", message), []
        if mark:
            for cell in cells:
                cell.error = f"Enter a value for {cell.dimension}." if not cell.value else text
            row.error = "" if cells else text
        return text

    def preview_draft(self) -> RateDraft | None:
        """The draft as typed so far, checked quietly (for the live preview)."""
        if self.chosen_meter is None:
            self.problems = [Problem("rate.meter", "choose a meter")]
            self.problem_list = ["Meter: Choose a meter."]
            return None
        if self.rate_model_value == DIMENSIONS and not self.chosen_dimensions:
            self.problems = [Problem("rate.dimensions", "choose a dimension")]
            self.problem_list = ["Price by: Choose at least one dimension to price by."]
            return None
        return self.check(self.chosen_meter)

    def clean_meter(self) -> Meter:
        meter: Meter = self.cleaned_data["meter"]
        if meter not in self.available_meters:
            raise ValidationError(
                f"{meter.label} is already priced on this plan. Delete its rate first "
                "to price it differently.",
                code="already_priced",
            )
        return meter

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        meter = data.get("meter")
        if meter is None:
            return data
        if self.rate_model_value == DIMENSIONS and not self._matrix_ready(meter):
            return data
        draft = self.check(meter)
        if draft is not None:
            data["draft"] = draft
        elif self.bad_rows and self.is_matrix:
            bad = self.bad_rows
            self.add_error(
                None,
                f"{bad} row{'s' if bad > 1 else ''} of the pricing matrix "
                f"need{'' if bad > 1 else 's'} attention; see the messages below.",
            )
        elif self.price.has_errors or self.default_price.has_errors or not self.errors:
            self.add_error(None, "The rate was not saved: see the messages below.")
        return data

    def _matrix_ready(self, meter: Meter) -> bool:
        """Whether there is a matrix to check: dimensions chosen, rows typed."""
        if not meter.dimensions:
            self.add_error(
                "rate_model",
                f"{meter.label} has no dimensions to price by. Choose another rate model, "
                "or add dimensions to the meter.",
            )
            return False
        if not self.chosen_dimensions:
            self.add_error("dimensions", "Choose at least one dimension to price by.")
            return False
        self.rows = [r for r in self.rows if not r.is_blank]
        if not self.rows:
            self.rows = [MatrixRow.blank(self.chosen_dimensions)]
            self.add_error(None, "Add at least one row to the pricing matrix.")
            return False
        return True


def _is_missing(problem: Problem) -> bool:
    """Whether a problem only says that something has not been typed yet."""
    return (
        problem.message in ("is required", "only the last tier may be unbounded")
        or problem.path == "rate.cells"
        or (problem.path.endswith(".values") and "non-empty" in problem.message)
    )


def rate_added_message(rate: Rate, draft: RateDraft) -> str:
    label, currency = rate.meter.label, rate.plan.currency
    if draft.model == DIMENSIONS:
        count, by = len(draft.cells), " and ".join(draft.dimensions)
        return f"Rate added: {label}, priced by {by} ({count} price{'s' * (count > 1)})."
    price = draft.cells[0][1]
    if price.model is PriceModel.PER_UNIT:
        return f"Rate added: {label} at {format_unit_price(price.unit_price, currency)} per unit."
    if price.model is PriceModel.PACKAGE:
        size = format_quantity(price.package_size)
        cost = format_unit_price(price.package_price, currency)
        return f"Rate added: {label} at {cost} per package of {size}."
    kind = rate.get_rate_model_display().lower()
    return f"Rate added: {label}, {kind} ({len(price.tiers)} tiers)."
