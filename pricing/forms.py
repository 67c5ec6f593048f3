"""Forms for plans and rates.

The rate form reads its pricing matrix straight from the POST: each row is one
input per chosen dimension (`cell-dim-<dimension>`) and one price
(`cell-price`), read back in order with `getlist`. Rows are validated one by
one so every message can be shown on the row it is about.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import zip_longest
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundWidget
from django.http import QueryDict

from meters.models import Meter
from meters.naming import dimension_key
from pricing.models import Plan, Rate

# What PriceCell can store: unit_price is DecimalField(max_digits=30,
# decimal_places=15) and dimension_key a CharField(max_length=1000); a test
# keeps these in step with the model.
PRICE_PLACES = 15
PRICE_INTEGER_DIGITS = 30 - PRICE_PLACES
MAX_KEY_LENGTH = 1000
MAX_VALUE_LENGTH = 100
# Plain decimal notation (an exponent is tolerated). Checked before Decimal()
# because Decimal also accepts "1_000", "NaN" and "Infinity".
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

PRICE_NAME = "cell-price"


def dimension_input_name(dimension: str) -> str:
    # Dimension names never contain spaces, and "cell-dim-" keeps them apart
    # from the price column, whatever the dimensions are called.
    return f"cell-dim-{dimension}"


def parse_price(raw: str) -> Decimal:
    """A unit price typed by a person, as an exact Decimal (never a float)."""
    text = raw.strip()
    if not text:
        raise ValidationError("Enter a price.", code="required")
    if not _NUMBER.match(text):
        raise ValidationError(
            f"“{text}” is not a number. Write it like 0.01, without a currency "
            "symbol or thousands separators.",
            code="invalid",
        )
    try:
        price = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern rules this out
        raise ValidationError(f"“{text}” is not a number.", code="invalid") from exc
    if price < 0:
        raise ValidationError("A price cannot be negative.", code="negative")
    if price == 0:
        return Decimal(0)
    # Trailing zeros do not count: "0.100000000000000000" is 0.1.
    places = max(0, -int(price.normalize().as_tuple().exponent))
    if places > PRICE_PLACES:
        raise ValidationError(
            f"Use at most {PRICE_PLACES} decimal places.", code="max_decimal_places"
        )
    if price.adjusted() >= PRICE_INTEGER_DIGITS:
        raise ValidationError("This price is too large.", code="max_digits")
    return price


class PlanForm(forms.ModelForm[Plan]):
    class Meta:
        model = Plan
        fields = ["name", "billing_period", "currency"]
        widgets = {"name": forms.TextInput(attrs={"autofocus": True})}
        help_texts = {
            "name": "Shown on the plan list and when assigning a plan to a customer, "
            "e.g. “Chatbot usage plan”.",
            "billing_period": "How often customers on this plan are invoiced.",
        }

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if Plan.objects.filter(name__iexact=name).exists():
            raise ValidationError(
                f"A pricing plan named “{name}” already exists. Choose another name.",
                code="unique",
            )
        return name


@dataclass
class MatrixCell:
    dimension: str
    value: str
    error: str = ""

    @property
    def input_name(self) -> str:
        return dimension_input_name(self.dimension)


@dataclass
class MatrixRow:
    """One row of the pricing-matrix editor: the text as typed, and its errors."""

    cells: list[MatrixCell]
    price: str = ""
    price_error: str = ""
    error: str = ""  # about the row as a whole (a repeated combination)

    @classmethod
    def blank(cls, dimensions: Sequence[str]) -> MatrixRow:
        return cls(cells=[MatrixCell(d, "") for d in dimensions])

    @property
    def values(self) -> list[str]:
        return [c.value for c in self.cells]

    @property
    def is_blank(self) -> bool:
        return not self.price and not any(self.values)

    @property
    def has_errors(self) -> bool:
        return bool(self.error or self.price_error or any(c.error for c in self.cells))


def read_matrix(data: QueryDict, dimensions: Sequence[str]) -> list[MatrixRow]:
    """The rows posted for these dimensions, in order, values stripped."""
    columns = [data.getlist(dimension_input_name(d)) for d in dimensions]
    prices = data.getlist(PRICE_NAME)
    return [
        MatrixRow(
            cells=[MatrixCell(d, v.strip()) for d, v in zip(dimensions, values, strict=True)],
            price=price.strip(),
        )
        for *values, price in zip_longest(*columns, prices, fillvalue="")
    ]


def validate_matrix(rows: Sequence[MatrixRow]) -> list[tuple[list[str], Decimal]]:
    """Check every row and record each problem on its row; return the
    (values, price) pairs of a matrix with no problems, else []."""
    seen: dict[str, int] = {}
    matrix: list[tuple[list[str], Decimal]] = []
    for number, row in enumerate(rows, start=1):
        for cell in row.cells:
            if not cell.value:
                cell.error = f"Enter a value for {cell.dimension}."
            elif len(cell.value) > MAX_VALUE_LENGTH:
                cell.error = f"Use at most {MAX_VALUE_LENGTH} characters."
        try:
            price = parse_price(row.price)
        except ValidationError as exc:
            row.price_error = exc.messages[0]
        else:
            matrix.append((row.values, price))
        if any(c.error for c in row.cells):
            continue
        key = dimension_key({c.dimension: c.value for c in row.cells})
        if key in seen:
            combination = " · ".join(row.values)
            row.error = f"{combination} is already priced in row {seen[key]}."
        elif len(key) > MAX_KEY_LENGTH:
            row.error = "These values are too long to store; shorten them."
        else:
            seen[key] = number
    return [] if any(r.has_errors for r in rows) else matrix


RATE_MODEL_HELP = {
    Rate.RateModel.PER_UNIT: "One price for every unit of usage, e.g. $0.01 per API call.",
    Rate.RateModel.DIMENSIONS: "A price for each combination of dimension values, "
    "e.g. per model and token type.",
}


class RateForm(forms.Form):
    """Add one rate to a plan.

    Bound to `data`, it validates. Given a `draft` instead (the same fields,
    posted when the meter or rate model changes), it only pre-fills itself, so
    the form can be re-rendered for the new choice without showing errors.
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
        choices=[c for c in Rate.RateModel.choices if c[0] in RATE_MODEL_HELP],
        initial=Rate.RateModel.PER_UNIT,
        widget=forms.RadioSelect,
    )
    unit_price = forms.CharField(
        label="Price per unit",
        required=False,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.01"}
        ),
    )
    dimensions = forms.MultipleChoiceField(
        label="Price by",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each chosen dimension becomes a column of the pricing matrix.",
    )

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        plan: Plan,
        draft: QueryDict | None = None,
    ) -> None:
        self.plan = plan
        source = data if data is not None else draft
        self.available_meters = list(Meter.objects.exclude(rates__plan=plan).order_by("label"))
        self.chosen_meter = self._chosen_meter(source)
        self.chosen_dimensions = self._chosen_dimensions(source, data is None)
        super().__init__(data, initial=self._initial(draft))
        # Every meter validates, so a meter that is already priced gets a message
        # naming it; only the unpriced ones are offered.
        self.fields["meter"].widget.choices = [(m.pk, m.label) for m in self.available_meters]
        dimensions = self.fields["dimensions"]
        assert isinstance(dimensions, forms.MultipleChoiceField)
        dimensions.choices = [(d, d) for d in self.meter_dimensions]
        self.rows = read_matrix(source, self.chosen_dimensions) if source is not None else []
        if draft is not None and draft.get("add_row"):
            self.rows.append(MatrixRow.blank(self.chosen_dimensions))
        if not self.rows:
            self.rows = [MatrixRow.blank(self.chosen_dimensions)]

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
        """Query string for pricing:matrix_row, naming the matrix columns."""
        meter = self.chosen_meter.pk if self.chosen_meter else ""
        return urlencode({"meter": meter, "dimensions": self.chosen_dimensions}, doseq=True)

    @property
    def rate_model_value(self) -> str:
        value = self["rate_model"].value()
        return str(value) if value in Rate.RateModel.values else Rate.RateModel.PER_UNIT

    def _chosen_meter(self, source: QueryDict | None) -> Meter | None:
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
            initial["rate_model"] = draft.get("rate_model") or Rate.RateModel.PER_UNIT
            initial["unit_price"] = draft.get("unit_price", "")
        return initial

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
        if data.get("rate_model") == Rate.RateModel.PER_UNIT:
            try:
                data["unit_price"] = parse_price(data.get("unit_price", ""))
            except ValidationError as exc:
                self.add_error("unit_price", exc)
        elif data.get("rate_model") == Rate.RateModel.DIMENSIONS:
            self._clean_matrix(meter, data)
        return data

    def _clean_matrix(self, meter: Meter, data: dict[str, Any]) -> None:
        if not meter.dimensions:
            self.add_error(
                "rate_model",
                f"{meter.label} has no dimensions to price by. Choose Per unit, or add "
                "dimensions to the meter.",
            )
            return
        if not self.chosen_dimensions:
            self.add_error("dimensions", "Choose at least one dimension to price by.")
            return
        # Rows left completely empty (an extra "+ Add row") are ignored.
        self.rows = [r for r in self.rows if not r.is_blank]
        if not self.rows:
            self.rows = [MatrixRow.blank(self.chosen_dimensions)]
            self.add_error(None, "Add at least one row to the pricing matrix.")
            return
        data["matrix"] = validate_matrix(self.rows)
        bad = sum(r.has_errors for r in self.rows)
        if bad:
            self.add_error(
                None,
                f"{bad} row{'s' if bad > 1 else ''} of the pricing matrix "
                f"need{'' if bad > 1 else 's'} attention; see the messages below.",
            )

    def rate_kwargs(self) -> dict[str, Any]:
        """Arguments for pricing.services.rate_create, once the form is valid."""
        data = self.cleaned_data
        if data["rate_model"] == Rate.RateModel.PER_UNIT:
            return {"meter": data["meter"], "unit_price": data["unit_price"]}
        return {
            "meter": data["meter"],
            "dimensions": self.chosen_dimensions,
            "matrix": data["matrix"],
        }
