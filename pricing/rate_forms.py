"""The rate editor's nested inputs: one price (per unit, tiers or package, with
free units) for the rate itself, for each pricing-matrix row and for the
matrix's default price. They are read from the POST as typed, turned into the
JSON form that pricing.schema.read_rate checks, and each Problem it reports is
put back on the input its path names, in words a billing operator follows.

Input names, where <p> is "" for the rate's own price, "default-" for the
matrix default and "m<key>-" for a matrix row (its key is the row's hidden
`row` input, so rows keep their inputs together wherever they are removed):

    <p>model <p>unit_price <p>free_units
    <p>package_size <p>package_price <p>package_rounding
    <p>tier-up_to <p>tier-unit_price <p>tier-flat_fee   (one of each per tier, in order)
    m<key>-dim-<dimension>

and the rate's own `first_tier_fee_at_zero` ("true"/"false"; a ticked checkbox
posts "on" after a hidden "false").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import zip_longest

from django.http import QueryDict

from meters.naming import dimension_key
from pricing.models import PriceCell, Rate
from pricing.money import EXACT, format_quantity
from pricing.price_models import CellPrice
from pricing.schema import Problem, RateDraft

PRICE_MODELS: list[tuple[str, str]] = [(m.value, m.label) for m in PriceCell.PriceModel]
TIERED = (PriceCell.PriceModel.GRADUATED, PriceCell.PriceModel.VOLUME)
ROUNDINGS: list[tuple[str, str]] = [(r.value, r.label) for r in PriceCell.PackageRounding]
# What PriceCell.dimension_key (CharField(max_length=1000)) holds; pricing.schema
# checks each value (MAX_TEXT characters) but not the key they make together.
MAX_KEY_LENGTH = 1000
ROW_KEY = re.compile(r"^[a-z0-9]{1,16}$")
TIER_FIELDS = ("up_to", "unit_price", "flat_fee")
AT_ZERO = "first_tier_fee_at_zero"  # the rate's input, as pricing.schema's RATE key
INPUTS = (
    *("model", "unit_price", "free_units", "package_size", "package_price", "package_rounding"),
    *(f"tier-{name}" for name in TIER_FIELDS),
)

FIELD_LABELS = {
    "model": "Price model",
    "unit_price": "Price per unit",
    "free_units": "Free units",
    "package_size": "Package size",
    "package_price": "Price per package",
    "package_rounding": "Partial packages",
    "tiers": "Tiers",
    "up_to": "Up to",
    "flat_fee": "Flat fee",
}
TIER_LABELS = {"up_to": "Up to", "unit_price": "Unit price", "flat_fee": "Flat fee"}
# What an empty required input should say, by field (tiers: "tier.<field>").
REQUIRED = {
    "unit_price": "Enter a price.",
    "tier.unit_price": "Enter a unit price.",
    "package_size": "Enter how many units a package holds.",
    "package_price": "Enter the price of one package.",
}
NEGATIVE = {
    "free_units": "Free units cannot be negative.",
    "package_size": "A package size cannot be negative.",
    "up_to": "A tier bound cannot be negative.",
    "flat_fee": "A fee cannot be negative.",
    "base_fee": "A fee cannot be negative.",
    "minimum_charge": "A minimum charge cannot be negative.",
}
MONEY_FIELDS = {"unit_price", "package_price", "flat_fee", "minimum_charge", "base_fee"}


def new_row_key() -> str:
    return secrets.token_hex(4)


def number_text(raw: str) -> str:
    """A typed bound as a quantity (`1000` -> `1,000`), or `…` while it is not one."""
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return "…"
    return format_quantity(value) if value.is_finite() and value >= 0 else "…"


def friendly(field_name: str, message: str) -> str:
    """pricing.schema's message for `field_name`, reworded for the editor. The
    schema's rules decide what is wrong; this only decides how it reads."""
    last = field_name.rsplit(".", 1)[-1]
    if message == "is required":
        return REQUIRED.get(field_name, REQUIRED.get(last, "Enter a number."))
    if message == "must not be negative":
        return NEGATIVE.get(last, "A price cannot be negative.")
    if places := re.fullmatch(r"has more than (\d+) decimal places", message):
        return f"Use at most {places.group(1)} decimal places."
    if message.endswith(" is not a number"):
        return f"{message}. Write it like 0.01, without a currency symbol or thousands separators."
    if too_large := re.fullmatch(
        r"is too large: use at most (\d+) digits before the point", message
    ):
        kind = "price" if last in MONEY_FIELDS else "number"
        return (
            f"This {kind} is too large: use at most {too_large.group(1)} digits before the point."
        )
    if limit := re.fullmatch(r"has ([\d,]+) (\w+); at most ([\d,]+) are allowed", message):
        count, what, most = limit.groups()
        return f"Use at most {most} {what}: there are {count}."
    if message == "only the last tier may be unbounded":
        return "Enter where this tier ends. Only the last tier is left open."
    if message.startswith("the last tier must be unbounded"):
        return (
            "Leave this empty: the last tier has no upper limit. To end it here, "
            "add a tier after it."
        )
    if before := re.match(r"must be above the tier before \((.*?)\)", message):
        return (
            f"Must be more than {number_text(before.group(1))}, where the tier before "
            "ends: tiers must rise without overlapping."
        )
    if message == "needs at least one tier":
        return "Add at least one tier."
    if message.startswith("unknown price model"):
        return "Choose a price model."
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


@dataclass
class TierRow:
    up_to: str = ""
    unit_price: str = ""
    flat_fee: str = ""
    start: str = "0"  # where the tier before ends; shown, never posted
    autofocus: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # "" holds the tier's own

    @property
    def is_blank(self) -> bool:
        return not (self.up_to or self.unit_price or self.flat_fee)

    @property
    def messages(self) -> list[str]:
        """The tier's messages in column order, each naming its column."""
        return [
            f"{TIER_LABELS[name]}: {self.errors[name]}" if name else self.errors[name]
            for name in ("", *TIER_FIELDS)
            if name in self.errors
        ]


@dataclass
class PriceEditor:
    """The inputs of one price, as typed, with a message per input."""

    prefix: str
    model: str = PriceCell.PriceModel.PER_UNIT
    unit_price: str = ""
    free_units: str = ""
    tiers: list[TierRow] = field(default_factory=list)
    package_size: str = ""
    package_price: str = ""
    package_rounding: str = PriceCell.PackageRounding.UP
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, data: QueryDict | None, prefix: str, model: str | None = None) -> PriceEditor:
        """The editor posted under `prefix`; `model` overrides the posted one."""

        def get(name: str, default: str = "") -> str:
            return str(data.get(prefix + name, default)).strip() if data is not None else default

        chosen = model or get("model")
        editor = cls(
            prefix=prefix,
            model=chosen if chosen in list(PriceCell.PriceModel) else PriceCell.PriceModel.PER_UNIT,
            unit_price=get("unit_price"),
            free_units=get("free_units"),
            package_size=get("package_size"),
            package_price=get("package_price"),
            package_rounding=get("package_rounding", PriceCell.PackageRounding.UP),
        )
        if data is not None:
            columns = [data.getlist(f"{prefix}tier-{name}") for name in TIER_FIELDS]
            editor.tiers = [
                TierRow(up_to.strip(), unit.strip(), fee.strip())
                for up_to, unit, fee in zip_longest(*columns, fillvalue="")
            ]
        if editor.is_tiered and not editor.tiers:
            editor.tiers = [TierRow(), TierRow()]
        editor.derive_starts()
        return editor

    @property
    def names(self) -> dict[str, str]:
        """Input names by field, for the template."""
        return {name.replace("-", "_"): self.prefix + name for name in INPUTS}

    @property
    def model_choices(self) -> list[tuple[str, str]]:
        return PRICE_MODELS

    @property
    def rounding_choices(self) -> list[tuple[str, str]]:
        return ROUNDINGS

    @property
    def tiers_id(self) -> str:
        return f"{self.prefix}tiers"

    @property
    def is_tiered(self) -> bool:
        return self.model in TIERED

    @property
    def is_package(self) -> bool:
        return self.model == PriceCell.PriceModel.PACKAGE

    @property
    def tier_rows(self) -> list[TierRow]:
        """The tier inputs to draw. Every model's inputs are on the page (those of
        other models hidden), so a price never loses what was typed when its
        model changes and changes back; an editor with no tiers yet offers two."""
        if self.tiers:
            return self.tiers
        blank = [TierRow(), TierRow()]
        blank[1].start = number_text("")
        return blank

    @property
    def is_blank(self) -> bool:
        typed = [self.unit_price, self.free_units, self.package_size, self.package_price]
        return not any(typed) and all(t.is_blank for t in self.tiers)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(t.errors for t in self.tiers)

    def add_tier(self) -> None:
        self.tiers.append(TierRow(autofocus=True))
        self.derive_starts()

    def derive_starts(self) -> None:
        for before, tier in zip([None, *self.tiers], self.tiers, strict=False):
            tier.start = "0" if before is None else number_text(before.up_to)

    def document(self) -> dict[str, object]:
        """The PRICE object of pricing.schema, with the strings as typed."""
        doc: dict[str, object] = {"model": self.model, "free_units": self.free_units or None}
        if self.is_tiered:
            doc["tiers"] = [
                {"up_to": t.up_to or None, "unit_price": t.unit_price, "flat_fee": t.flat_fee}
                for t in self.tiers
            ]
        elif self.is_package:
            doc["package_size"] = self.package_size
            doc["package_price"] = self.package_price
            doc["package_rounding"] = self.package_rounding
        else:
            doc["unit_price"] = self.unit_price
        return doc

    def place(self, sub: str, message: str, *, mark: bool = True) -> tuple[str, str]:
        """The label of the input a problem at `sub` (its path below the price,
        e.g. `.tiers[1].up_to`) is about, and its message as shown; with
        `mark`, the message is also put on that input."""
        tier = re.fullmatch(r"\.tiers\[(\d+)\](?:\.(\w+))?", sub)
        if tier and int(tier.group(1)) < len(self.tiers):
            index, name = int(tier.group(1)), tier.group(2) or ""
            text = friendly(f"tier.{name}" if name else "", message)
            if mark:
                self.tiers[index].errors.setdefault(name, text)
            label = f"Tier {index + 1}"
            return (f"{label} · {TIER_LABELS.get(name, name)}" if name else label), text
        name = sub.lstrip(".")
        text = friendly(name, message)
        if mark:
            self.errors.setdefault(name, text)
        return FIELD_LABELS.get(name, "Price"), text

    def error_for(self, name: str) -> str:
        return self.errors.get(name, "")


@dataclass
class MatrixCell:
    dimension: str
    value: str
    input_name: str
    error: str = ""


@dataclass
class MatrixRow:
    """One row of the pricing-matrix editor: its combination and its price."""

    key: str
    cells: list[MatrixCell]
    price: PriceEditor
    error: str = ""  # about the row as a whole (a repeated combination)

    @classmethod
    def read(cls, data: QueryDict | None, key: str, dimensions: Sequence[str]) -> MatrixRow:
        prefix = f"m{key}-"
        cells = [
            MatrixCell(d, str(data.get(f"{prefix}dim-{d}", "")).strip() if data else "", "")
            for d in dimensions
        ]
        for cell in cells:
            cell.input_name = f"{prefix}dim-{cell.dimension}"
        return cls(key=key, cells=cells, price=PriceEditor.read(data, prefix))

    @classmethod
    def blank(cls, dimensions: Sequence[str]) -> MatrixRow:
        return cls.read(None, new_row_key(), dimensions)

    @property
    def values(self) -> list[str]:
        return [c.value for c in self.cells]

    @property
    def combination(self) -> str:
        return " · ".join(v or "…" for v in self.values)

    @property
    def is_blank(self) -> bool:
        return not any(self.values) and self.price.is_blank

    @property
    def has_errors(self) -> bool:
        return bool(self.error or self.price.has_errors or any(c.error for c in self.cells))

    def document(self) -> dict[str, object]:
        return {"values": self.values, "price": self.price.document()}


def read_rows(data: QueryDict | None, dimensions: Sequence[str]) -> list[MatrixRow]:
    """The matrix rows posted, in page order (a row's `row` input gives its key)."""
    if data is None:
        return []
    keys = [k for k in data.getlist("row") if ROW_KEY.match(k)]
    return [MatrixRow.read(data, key, dimensions) for key in dict.fromkeys(keys)]


def storage_problems(draft: RateDraft, path: str) -> list[Problem]:
    """What a draft pricing.schema accepts still cannot store: a combination
    whose dimension_key is longer than its column holds."""
    if draft.model != Rate.RateModel.DIMENSIONS:
        return []
    return [
        Problem(f"{path}.cells[{i}].values", "is too long")
        for i, (values, _) in enumerate(draft.cells)
        if len(dimension_key(dict(zip(draft.dimensions, values, strict=True)))) > MAX_KEY_LENGTH
    ]


# A stored rate in the editor: the inputs that, typed, give back the same rate.


def _typed_number(value: Decimal | None, *, zero: str = "0") -> str:
    """A stored number as an operator would type it: `0.00001`, `100` (not
    `0.000010000000000` or `1E+2`); `zero` for 0 (an input left empty where
    empty means 0), "" for None."""
    if value is None:
        return ""
    if not value:
        return zero
    return format(value.normalize(EXACT), "f")


def _price_inputs(data: QueryDict, prefix: str, price: CellPrice) -> None:
    """The inputs of one price under `prefix`: its model's own, and free units
    (left empty when none, as a new price starts)."""
    data[f"{prefix}model"] = price.model.value
    data[f"{prefix}free_units"] = _typed_number(price.free_units, zero="")
    if price.model in TIERED:
        tiers = price.tiers
        data.setlist(f"{prefix}tier-up_to", [_typed_number(t.up_to) for t in tiers])
        data.setlist(f"{prefix}tier-unit_price", [_typed_number(t.unit_price) for t in tiers])
        data.setlist(f"{prefix}tier-flat_fee", [_typed_number(t.flat_fee, zero="") for t in tiers])
    elif price.model == PriceCell.PriceModel.PACKAGE:
        data[f"{prefix}package_size"] = _typed_number(price.package_size)
        data[f"{prefix}package_price"] = _typed_number(price.package_price)
        data[f"{prefix}package_rounding"] = price.package_rounding.value
    else:
        data[f"{prefix}unit_price"] = _typed_number(price.unit_price)


def rate_form_data(draft: RateDraft, meter_pk: int) -> QueryDict:
    """The rate editor's inputs (the names at the top of this module) for a
    stored rate (pricing.selectors.rate_draft), as if the operator had typed
    it: pricing.forms.RateForm reads them back into the same draft. Matrix
    rows keep their order, keyed r0, r1... (new rows get hex keys: no clash)."""
    data = QueryDict(mutable=True)
    data["kind"] = "usage"
    data["meter"] = str(meter_pk)
    data["rate_model"] = draft.model
    data["minimum_charge"] = _typed_number(draft.minimum_charge)
    data["base_fee"] = _typed_number(draft.base_fee)
    data[AT_ZERO] = "true" if draft.first_tier_fee_at_zero else "false"
    if draft.model != Rate.RateModel.DIMENSIONS:
        if draft.cells:
            _price_inputs(data, "", draft.cells[0][1])
        return data
    data.setlist("dimensions", list(draft.dimensions))
    data["dimensions_meter"] = str(meter_pk)
    keys = [f"r{index}" for index in range(len(draft.cells))]
    data.setlist("row", keys)
    for key, (values, price) in zip(keys, draft.cells, strict=True):
        for dimension, value in zip(draft.dimensions, values, strict=True):
            data[f"m{key}-dim-{dimension}"] = value
        _price_inputs(data, f"m{key}-", price)
    if draft.default_price is not None:
        data["has_default_price"] = "on"
        _price_inputs(data, "default-", draft.default_price)
    return data
