"""Pricing as code: the JSON form of a plan and its rates, and the one set of
rules that checks it. The rate editor and `import_plan` both validate through
`read_rate`, so a file and a form are held to the same rules. Pure: no ORM.

A plan document (docs/PLAN_SCHEMA.md shows a full example):

    {"schema": "tally.plan/1", "name": "...", "billing_period": "monthly",
     "currency": "USD", "billing_anchor": "anniversary",
     "grace_period_hours": 24, "net_terms_days": 30,
     "late_usage_policy": "bill_next", "invoice_minimum": "50.00" | null,
     "one_time_fees": [{"description": "Setup fee", "amount": "500.00"}, ...],
     "tax_rates": ["uk-vat", ...], "rates": [RATE, ...]}

The four invoicing keys are enum values and whole numbers (InvoiceTerms);
each may be left out, for the plan's default. The invoice minimum and the
one-time fees are money in the plan's currency (read_invoice_charges), the
tax rates the codes of existing tax rates (read_tax_rate_codes); left out,
the plan has none.

RATE: {"meter": "<api name>", "model": "per_unit|graduated|volume|package",
       "price": PRICE, "minimum_charge": "10" | null, "base_fee": "5" | null,
       "first_tier_fee_at_zero": true | false}
   or {"meter": "...", "model": "dimensions", "dimensions": ["model", "type"],
       "cells": [{"values": ["model a", "input"], "price": PRICE}, ...],
       "default_price": PRICE | null, "minimum_charge": ..., "base_fee": ...,
       "first_tier_fee_at_zero": ...}
"first_tier_fee_at_zero": whether the rate's tiered prices charge their
first tier's flat fee at zero usage (pricing.price_models); left out, it is
DEFAULT_FIRST_TIER_FEE_AT_ZERO. Every rate writes it; other models ignore it.
PRICE: {"model": "per_unit", "unit_price": "0.01", "free_units": "0"}
     | {"model": "graduated" | "volume", "tiers": [{"up_to": "5" | null,
        "unit_price": "5", "flat_fee": "0"}, ...], "free_units": "0"}
     | {"model": "package", "package_size": "100", "package_price": "9",
        "package_rounding": "up" | "down", "free_units": "0"}
Money and quantities are strings (or integers) so they stay exact.
A document is also held to size limits (the "Limits" table of
docs/PLAN_SCHEMA.md): each list's length is checked before any of its items is
read, so an oversized document costs a len(), not a pass over its items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from enum import StrEnum
from typing import cast

from meters.meter_rules import has_control_characters
from meters.naming import dimension_key
from meters.validation import UNSTORABLE
from pricing.money import (
    CURRENCIES,
    MAX_AMOUNT,
    in_minor_units,
    minor_unit_exponent,
    round_money,
)
from pricing.periods import BillingAnchor, LateUsagePolicy, Period
from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier

SCHEMA = "tally.plan/1"
# What the database columns hold (DecimalField(max_digits=30)): prices keep 15
# decimal places, quantities 9 (as usage values do). A number outside them
# would be rounded silently, or refused by the database, when the rate is saved.
MAX_DIGITS = 30
MAX_PLACES = 15
MAX_TEXT = 100  # a dimension name or value
MAX_NAME = 200  # Plan.name
MAX_KEY = 1000  # PriceCell.dimension_key
# normalize() rounds to the context's precision (28 digits by default); stored
# numbers have up to 30, so normalize in a context wide enough to stay exact.
EXACT = Context(prec=60)
QUANTITY_PLACES = 9
RATE_MODELS = [m.value for m in PriceModel] + ["dimensions"]
TIERED = (PriceModel.GRADUATED.value, PriceModel.VOLUME.value)

# Size limits, far above real usage-based plans (an OpenAI-like price list is
# ~50 models x 4 token types = 200 matrix rows of 1-3 tiers) and low enough
# that the plan page, the editor and the rating stay fast. docs/PLAN_SCHEMA.md
# ("Limits") gives the reasons; the counts are what the plan page renders.
MAX_RATES = 100  # rates in a plan (one per meter)
MAX_RATE_DIMENSIONS = 5  # dimensions a pricing matrix prices by
MAX_CELLS = 1_000  # rows of one pricing matrix
MAX_TIERS = 100  # tiers of one price
MAX_RATE_TIERS = 2_000  # tiers of all of one rate's prices together
MAX_PLAN_PRICES = 5_000  # prices (matrix rows, default prices, single prices) in a plan
MAX_PLAN_TIERS = 10_000  # tiers of all of a plan's prices together
MAX_NUMBER_TEXT = 100  # characters of a number written as text
SHOWN = 40  # characters of a refused value repeated in a message

# How a plan invoices (Plan.billing_anchor, grace_period_hours,
# net_terms_days, late_usage_policy). The one definition of the defaults: the
# model fields take theirs from here. The limits are this format's: a grace
# period of at most a year, terms of at most a year.
DEFAULT_BILLING_ANCHOR = BillingAnchor.ANNIVERSARY
DEFAULT_GRACE_PERIOD_HOURS = 24
MAX_GRACE_PERIOD_HOURS = 8_760  # 365 days
DEFAULT_NET_TERMS_DAYS = 30
MAX_NET_TERMS_DAYS = 365
DEFAULT_LATE_USAGE_POLICY = LateUsagePolicy.BILL_NEXT

# Whether a rate's tiered prices charge their first tier's flat fee at zero
# usage. The one definition of the default: Stripe's and OpenMeter's answer
# (docs/PRICING.md, "Flat fees in tiers"), for a new rate made on a page, by
# the API or from a file that leaves the key out; Rate's field takes it from
# here. Rates stored before the choice existed were set to False by migration
# pricing/0009, so no price changed.
DEFAULT_FIRST_TIER_FEE_AT_ZERO = True


@dataclass(frozen=True)
class Problem:
    path: str  # where, e.g. "rates[1].price.tiers[2].up_to"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class Problems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def shown(raw: object) -> str:
    """A refused value as a message repeats it: its repr, cut short, so a
    megabyte-long meter name does not come back as a megabyte-long error."""
    text = repr(raw)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


@dataclass(frozen=True)
class Size:
    """What the size limits count, for one rate or a whole plan."""

    rates: int = 0
    prices: int = 0  # matrix rows, default prices, a rate's one price
    tiers: int = 0

    def __add__(self, other: Size) -> Size:
        return Size(self.rates + other.rates, self.prices + other.prices, self.tiers + other.tiers)


@dataclass(frozen=True)
class RateDraft:
    meter: str
    model: str
    dimensions: tuple[str, ...] = ()
    cells: tuple[tuple[tuple[str, ...], CellPrice], ...] = ()
    default_price: CellPrice | None = None
    minimum_charge: Decimal | None = None
    base_fee: Decimal | None = None
    first_tier_fee_at_zero: bool = DEFAULT_FIRST_TIER_FEE_AT_ZERO

    @property
    def size(self) -> Size:
        prices = [p for _, p in self.cells]
        if self.default_price is not None:
            prices.append(self.default_price)
        return Size(1, len(prices), sum(len(p.tiers) for p in prices))


@dataclass(frozen=True, kw_only=True)
class InvoiceTerms:
    """How a plan's periods fall and its invoices are issued: periods start
    on each assignment's start or follow the calendar (`billing_anchor`,
    pricing.periods.Schedule); a period's draft waits `grace_period_hours`
    after the period ends for late usage, then is finalized; it is due
    `net_terms_days` after it is issued (unless the customer has their own
    terms); usage arriving after that follows `late_usage_policy`."""

    billing_anchor: BillingAnchor = DEFAULT_BILLING_ANCHOR
    grace_period_hours: int = DEFAULT_GRACE_PERIOD_HOURS
    net_terms_days: int = DEFAULT_NET_TERMS_DAYS
    late_usage_policy: LateUsagePolicy = DEFAULT_LATE_USAGE_POLICY


@dataclass(frozen=True)
class OneTimeFee:
    description: str
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class InvoiceCharges:
    """A plan's invoice-level prices (PlanVersion): the invoice minimum per
    period (fees and usage together, after discounts) and the one-time fees
    of an assignment's first invoice (pricing.invoice_steps)."""

    invoice_minimum: Decimal | None = None
    one_time_fees: tuple[OneTimeFee, ...] = ()


@dataclass(frozen=True)
class PlanDraft:
    name: str
    billing_period: str
    currency: str
    rates: tuple[RateDraft, ...] = field(default_factory=tuple)
    terms: InvoiceTerms = InvoiceTerms()
    charges: InvoiceCharges = InvoiceCharges()
    tax_rates: tuple[str, ...] = ()  # TaxRate codes


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def amount(
        self, raw: object, path: str, *, allow_none: bool = False, places: int = MAX_PLACES
    ) -> Decimal | None:
        """A non-negative exact number with at most `places` decimal places that
        its database column can hold."""
        if raw is None or raw == "":
            if not allow_none:
                self.fail(path, "is required")
            return None
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            self.fail(path, f'must be a number written as text, like "0.01" (got {shown(raw)})')
            return None
        if isinstance(raw, str) and len(raw) > MAX_NUMBER_TEXT:
            self.fail(path, f"is too long for a number: at most {MAX_NUMBER_TEXT} characters")
            return None
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            self.fail(path, f"“{raw}” is not a number")
            return None
        if not value.is_finite():
            self.fail(path, f"“{raw}” is not a number")
            return None
        if value < 0:
            self.fail(path, "must not be negative")
            return None
        # Trailing zeros are not places: "1.0000000000000000" is 1.
        if value and -value.normalize(EXACT).as_tuple().exponent > places:  # type: ignore[operator]
            self.fail(path, f"has more than {places} decimal places")
            return None
        if value and value.adjusted() >= MAX_DIGITS - places:
            self.fail(
                path, f"is too large: use at most {MAX_DIGITS - places} digits before the point"
            )
            return None
        return value

    def money(
        self, raw: object, path: str, currency: str, *, allow_none: bool = False
    ) -> Decimal | None:
        """An invoice-level amount: non-negative, in `currency`'s minor unit,
        below MAX_AMOUNT."""
        value = self.amount(raw, path, allow_none=allow_none)
        if value is None:
            return None
        if value >= MAX_AMOUNT:
            self.fail(path, f"must be less than {MAX_AMOUNT:,}")
            return None
        if currency in CURRENCIES and not in_minor_units(value, currency):
            places = minor_unit_exponent(currency)
            self.fail(path, f"must have at most {places} decimal places in {currency}")
            return None
        return value

    def flag(self, raw: Mapping[str, object], key: str, path: str, default: bool) -> bool:
        """A true/false key: `default` when left out; JSON's true or false
        otherwise (not "true", 1 or null, which a reader could take either way)."""
        if key not in raw:
            return default
        value = raw[key]
        if not isinstance(value, bool):
            self.fail(f"{path}.{key}", f"must be true or false (got {shown(value)})")
            return default
        return value

    def quantity(self, raw: object, path: str, *, allow_none: bool = False) -> Decimal | None:
        return self.amount(raw, path, allow_none=allow_none, places=QUANTITY_PLACES)

    def text_list(self, raw: object, path: str) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
            self.fail(path, "must be a list of non-empty texts")
            return ()
        if any(len(v.strip()) > MAX_TEXT for v in raw):
            self.fail(path, f"each text must be at most {MAX_TEXT} characters")
            return ()
        return tuple(v.strip() for v in raw)

    def price(self, raw: object, path: str) -> CellPrice | None:
        if not isinstance(raw, Mapping):
            self.fail(path, "must be an object with a model and its prices")
            return None
        model = raw.get("model", "per_unit")
        free = self.quantity(raw.get("free_units"), f"{path}.free_units", allow_none=True)
        free = free or Decimal(0)
        if model == PriceModel.PER_UNIT:
            price = self.amount(raw.get("unit_price"), f"{path}.unit_price")
            return None if price is None else CellPrice(unit_price=price, free_units=free)
        if model in (PriceModel.GRADUATED, PriceModel.VOLUME):
            tiers = self.tiers(raw.get("tiers"), f"{path}.tiers")
            if tiers is None:
                return None
            return CellPrice(model=PriceModel(model), tiers=tiers, free_units=free)
        if model == PriceModel.PACKAGE:
            return self.package(raw, path, free)
        self.fail(
            f"{path}.model",
            f"unknown price model {shown(model)}; use one of "
            + ", ".join(m.value for m in PriceModel),
        )
        return None

    def package(self, raw: Mapping[str, object], path: str, free: Decimal) -> CellPrice | None:
        size = self.quantity(raw.get("package_size"), f"{path}.package_size")
        price = self.amount(raw.get("package_price"), f"{path}.package_price")
        rounding = raw.get("package_rounding", "up")
        if size is not None and size == 0:
            self.fail(f"{path}.package_size", "a package must hold more than 0 units")
            size = None
        if rounding not in ("up", "down"):
            self.fail(f"{path}.package_rounding", 'must be "up" or "down"')
            return None
        if size is None or price is None:
            return None
        return CellPrice(
            model=PriceModel.PACKAGE,
            package_size=size,
            package_price=price,
            package_rounding=PackageRounding(rounding),
            free_units=free,
        )

    def tiers(self, raw: object, path: str) -> tuple[Tier, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.fail(path, "needs at least one tier")
            return None
        before = len(self.problems)
        tiers: list[Tier] = []
        previous = Decimal(0)
        for i, item in enumerate(raw):
            here = f"{path}[{i}]"
            if not isinstance(item, Mapping):
                self.fail(here, "must be an object with up_to, unit_price and flat_fee")
                continue
            last = i == len(raw) - 1
            up_to = self.quantity(item.get("up_to"), f"{here}.up_to", allow_none=True)
            start = item.get("from")
            if start is not None:
                begin = self.quantity(start, f"{here}.from")
                if begin is not None and begin > previous:
                    self.fail(f"{here}.from", f"leaves a gap: the tier before ends at {previous}")
                elif begin is not None and begin < previous:
                    self.fail(f"{here}.from", f"overlaps the tier before, which ends at {previous}")
            if up_to is None and not last and item.get("up_to") in (None, ""):
                self.fail(f"{here}.up_to", "only the last tier may be unbounded")
            if up_to is not None and last:
                self.fail(f"{here}.up_to", "the last tier must be unbounded (leave up_to empty)")
            if up_to is not None and up_to <= previous:
                self.fail(
                    f"{here}.up_to",
                    f"must be above the tier before ({previous}): tiers "
                    "must rise without overlapping",
                )
            unit = self.amount(item.get("unit_price"), f"{here}.unit_price")
            fee = self.amount(item.get("flat_fee"), f"{here}.flat_fee", allow_none=True)
            if unit is not None:
                tiers.append(Tier(up_to, unit, fee or Decimal(0)))
            previous = up_to if up_to is not None else previous
        return tuple(tiers) if len(self.problems) == before else None


def unstorable_text_problem(text: str) -> str:
    """Why a name cannot be stored or shown: a control character (PostgreSQL
    refuses NUL; the others cannot be typed or seen) or a lone surrogate (not
    Unicode: no database driver can send it); "" if neither."""
    if has_control_characters(text):
        return "must not contain control characters"
    if UNSTORABLE.search(text):  # NUL is a control character: only a surrogate is left
        return "must be Unicode text (it holds a lone surrogate)"
    return ""


def whole_number_problem(raw: object, unit: str, maximum: int) -> str:
    """Why `raw` is not a whole number of `unit` from 0 to `maximum`; "" if it
    is. Only an integer is one: not true, not "24", not 24.5 (nor 24.0, which
    a JSON reader with exact decimals keeps as a decimal)."""
    wanted = f"must be a whole number of {unit} from 0 to {maximum}"
    if isinstance(raw, bool) or not isinstance(raw, int):
        return f"{wanted} (got {shown(raw)})"
    if not 0 <= raw <= maximum:
        # Only a number of at most SHOWN digits is repeated (one of 5,000
        # cannot even be turned into text).
        return f"{wanted} (got {raw})" if abs(raw) < 10**SHOWN else wanted
    return ""


def grace_period_problem(raw: object) -> str:
    """Why `raw` cannot be a plan's grace period (hours); "" if it can."""
    return whole_number_problem(raw, "hours", MAX_GRACE_PERIOD_HOURS)


def net_terms_problem(raw: object) -> str:
    """Why `raw` cannot be payment terms (days after issue); "" if it can."""
    return whole_number_problem(raw, "days", MAX_NET_TERMS_DAYS)


def choice_problem(raw: object, choices: type[StrEnum]) -> str:
    """Why `raw` is not one of the enum's values; "" if it is one."""
    if isinstance(raw, str) and raw in {c.value for c in choices}:
        return ""
    return f"must be one of {', '.join(c.value for c in choices)} (got {shown(raw)})"


def billing_anchor_problem(raw: object) -> str:
    """Why `raw` is not a billing anchor's value; "" if it is one."""
    return choice_problem(raw, BillingAnchor)


def late_usage_problem(raw: object) -> str:
    """Why `raw` is not a late-usage policy's value; "" if it is one."""
    return choice_problem(raw, LateUsagePolicy)


# In the order a plan document writes them.
TERM_RULES = {
    "billing_anchor": billing_anchor_problem,
    "grace_period_hours": grace_period_problem,
    "net_terms_days": net_terms_problem,
    "late_usage_policy": late_usage_problem,
}


def read_terms(
    raw: Mapping[str, object], base: InvoiceTerms = InvoiceTerms()
) -> tuple[InvoiceTerms | None, list[Problem]]:
    """The invoicing keys of a plan document (or of a change to a plan),
    checked: a key left out keeps `base`'s value (the defaults, or the stored
    plan's); one given must follow its rule (TERM_RULES), `null` included."""
    values = {key: raw[key] if key in raw else getattr(base, key) for key in TERM_RULES}
    problems = [
        Problem(key, message) for key, rule in TERM_RULES.items() if (message := rule(values[key]))
    ]
    if problems:
        return None, problems
    terms = InvoiceTerms(
        billing_anchor=BillingAnchor(cast(str, values["billing_anchor"])),
        grace_period_hours=cast(int, values["grace_period_hours"]),
        net_terms_days=cast(int, values["net_terms_days"]),
        late_usage_policy=LateUsagePolicy(cast(str, values["late_usage_policy"])),
    )
    return terms, []


MAX_ONE_TIME_FEES = 20
MAX_FEE_DESCRIPTION = 200
MAX_TAX_RATES = 50
CHARGE_KEYS = ("invoice_minimum", "one_time_fees")


def read_invoice_charges(
    raw: Mapping[str, object], currency: str
) -> tuple[InvoiceCharges | None, list[Problem]]:
    """A plan's `invoice_minimum` ("50.00" or null) and `one_time_fees`
    ([{"description": "Setup fee", "amount": "500.00"}, …]), checked: amounts
    are money in the plan's currency (at most its minor unit, below
    MAX_AMOUNT), a fee above zero with a description. Left out: none."""
    r = _Reader()
    minimum = r.money(raw.get("invoice_minimum"), "invoice_minimum", currency, allow_none=True)
    fees_raw = raw.get("one_time_fees", [])
    fees: list[OneTimeFee] = []
    if not isinstance(fees_raw, list):
        r.fail("one_time_fees", "must be a list")
    elif len(fees_raw) > MAX_ONE_TIME_FEES:
        r.fail("one_time_fees", _too_many(len(fees_raw), MAX_ONE_TIME_FEES, "one-time fees"))
    else:
        for i, item in enumerate(fees_raw):
            path = f"one_time_fees[{i}]"
            if not isinstance(item, Mapping):
                r.fail(path, 'must be an object like {"description": "Setup fee", "amount": "500"}')
                continue
            description = item.get("description")
            text = description.strip() if isinstance(description, str) else ""
            if not text:
                r.fail(f"{path}.description", "is required: the customer reads it on the invoice")
            elif len(text) > MAX_FEE_DESCRIPTION:
                r.fail(f"{path}.description", f"must be at most {MAX_FEE_DESCRIPTION} characters")
            elif problem := unstorable_text_problem(text):
                r.fail(f"{path}.description", problem)
            amount = r.money(item.get("amount"), f"{path}.amount", currency)
            if amount is not None and amount == 0:
                r.fail(f"{path}.amount", "must be greater than zero")
            elif amount is not None and text:
                fees.append(OneTimeFee(text, amount))
    if r.problems:
        return None, r.problems
    return InvoiceCharges(invoice_minimum=minimum, one_time_fees=tuple(fees)), []


def read_tax_rate_codes(raw: object, known: Sequence[str]) -> tuple[tuple[str, ...], list[Problem]]:
    """A plan's `tax_rates`: a list of the codes of tax rates that exist."""
    if raw is None:
        return (), []
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        return (), [Problem("tax_rates", 'must be a list of tax rate codes, like ["uk-vat"]')]
    if len(raw) > MAX_TAX_RATES:
        return (), [Problem("tax_rates", _too_many(len(raw), MAX_TAX_RATES, "tax rates"))]
    unknown = [code for code in raw if code not in known]
    if unknown:
        return (), [Problem("tax_rates", f"no tax rate {', '.join(map(shown, unknown))}")]
    return tuple(dict.fromkeys(raw)), []


def read_rate(
    raw: object, path: str, meters: Mapping[str, Sequence[str]]
) -> tuple[RateDraft | None, list[Problem]]:
    """Check one rate document against the known meters (api name → dimensions)."""
    r = _Reader()
    draft = _rate(r, raw, path, meters)
    return (draft if not r.problems else None), r.problems


def _rate(
    r: _Reader, raw: object, path: str, meters: Mapping[str, Sequence[str]]
) -> RateDraft | None:
    if not isinstance(raw, Mapping):
        r.fail(path, "must be an object")
        return None
    meter = raw.get("meter")
    if not isinstance(meter, str) or meter not in meters:
        r.fail(f"{path}.meter", f"unknown meter {shown(meter)}")
        return None
    model = raw.get("model", "per_unit")
    if model not in RATE_MODELS:
        r.fail(
            f"{path}.model",
            f"unknown rate model {shown(model)}; use one of {', '.join(RATE_MODELS)}",
        )
        return None
    _, limits = rate_size(raw, path)
    if limits:
        # Stop here: reading an oversized rate is the work the limits prevent.
        r.problems += limits
        return None
    minimum = r.amount(raw.get("minimum_charge"), f"{path}.minimum_charge", allow_none=True)
    base_fee = r.amount(raw.get("base_fee"), f"{path}.base_fee", allow_none=True)
    at_zero = r.flag(raw, "first_tier_fee_at_zero", path, DEFAULT_FIRST_TIER_FEE_AT_ZERO)
    if model != "dimensions":
        price = r.price({**_as_dict(raw.get("price")), "model": model}, f"{path}.price")
        single = (((), price),) if price else ()
        return RateDraft(meter, model, (), single, None, minimum, base_fee, at_zero)
    dimensions = r.text_list(raw.get("dimensions"), f"{path}.dimensions")
    if raw.get("dimensions") == []:
        # Without one, the matrix has no row to price usage with.
        r.fail(f"{path}.dimensions", "a pricing matrix needs at least one dimension")
    undefined = [d for d in dimensions if d not in meters[meter]]
    if undefined:
        r.fail(f"{path}.dimensions", f"meter {meter} has no dimension {', '.join(undefined)}")
    if len(set(dimensions)) != len(dimensions):
        r.fail(f"{path}.dimensions", "a dimension is listed twice")
    cells = _cells(r, raw.get("cells"), f"{path}.cells", dimensions)
    default_raw = raw.get("default_price")
    default = r.price(default_raw, f"{path}.default_price") if default_raw is not None else None
    return RateDraft(meter, model, dimensions, cells, default, minimum, base_fee, at_zero)


def _tier_count(price: object, model: object) -> int:
    """How many tiers a PRICE holds, counted without reading them; 0 for a
    model that does not use tiers (they are ignored there)."""
    if model not in TIERED or not isinstance(price, Mapping):
        return 0
    tiers = price.get("tiers")
    return len(tiers) if isinstance(tiers, list) else 0


def _too_many(count: int, limit: int, what: str) -> str:
    return f"has {count:,} {what}; at most {limit:,} are allowed"


def rate_size(raw: object, path: str) -> tuple[Size, list[Problem]]:
    """A rate document's size and the limits it breaks, from the lengths of its
    lists alone: no item is checked, and a matrix with too many rows is not
    looked into at all. `read_rate` refuses a rate with any such problem
    before reading it."""
    if not isinstance(raw, Mapping):
        return Size(), []
    model = raw.get("model", "per_unit")
    if model != "dimensions":
        tiers = _tier_count(raw.get("price"), model)
        if tiers > MAX_TIERS:
            return Size(1, 1, tiers), [
                Problem(f"{path}.price.tiers", _too_many(tiers, MAX_TIERS, "tiers"))
            ]
        return Size(1, 1, tiers), []
    problems: list[Problem] = []
    dimensions, cells = raw.get("dimensions"), raw.get("cells")
    if isinstance(dimensions, list) and len(dimensions) > MAX_RATE_DIMENSIONS:
        message = _too_many(len(dimensions), MAX_RATE_DIMENSIONS, "dimensions")
        problems.append(Problem(f"{path}.dimensions", message))
    cells = cells if isinstance(cells, list) else []
    default = raw.get("default_price")
    size = Size(1, len(cells) + (default is not None), 0)
    if len(cells) > MAX_CELLS:
        problems.append(Problem(f"{path}.cells", _too_many(len(cells), MAX_CELLS, "rows")))
        return size, problems
    prices = [(f"{path}.cells[{i}].price", _as_dict(c).get("price")) for i, c in enumerate(cells)]
    prices.append((f"{path}.default_price", default))
    counts = [(where, _tier_count(p, _as_dict(p).get("model", "per_unit"))) for where, p in prices]
    over = [
        Problem(f"{where}.tiers", _too_many(n, MAX_TIERS, "tiers"))
        for where, n in counts
        if n > MAX_TIERS
    ]
    tiers = sum(n for _, n in counts)
    if tiers > MAX_RATE_TIERS and not over:
        over.append(
            Problem(
                f"{path}.cells",
                f"its prices have {tiers:,} tiers in all; "
                f"at most {MAX_RATE_TIERS:,} are allowed in one rate",
            )
        )
    return Size(size.rates, size.prices, tiers), problems + over


def _cells(
    r: _Reader, raw: object, path: str, dimensions: tuple[str, ...]
) -> tuple[tuple[tuple[str, ...], CellPrice], ...]:
    if not isinstance(raw, list) or not raw:
        r.fail(path, "a pricing matrix needs at least one row")
        return ()
    cells: list[tuple[tuple[str, ...], CellPrice]] = []
    seen: dict[tuple[str, ...], int] = {}
    for i, item in enumerate(raw):
        here = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            r.fail(here, "must be an object with values and price")
            continue
        raw_values = item.get("values")
        if isinstance(raw_values, list) and dimensions and len(raw_values) > len(dimensions):
            # Before reading them: a row may not hold thousands of values.
            r.fail(f"{here}.values", f"needs one value per dimension ({', '.join(dimensions)})")
            continue
        before = len(r.problems)
        values = r.text_list(raw_values, f"{here}.values")
        if len(r.problems) > before:
            values = ()  # reported; the row's price is still checked below
        elif dimensions and len(values) != len(dimensions):
            # An empty list too: a row without values would be dropped unseen.
            r.fail(f"{here}.values", f"needs one value per dimension ({', '.join(dimensions)})")
            continue
        elif len(dimension_key(dict(zip(dimensions, values, strict=True)))) > MAX_KEY:
            r.fail(f"{here}.values", "these values are too long together; shorten them")
            continue
        elif values in seen:
            combo = " · ".join(values)
            r.fail(f"{here}.values", f"{combo} is already priced in row {seen[values] + 1}")
            continue
        else:
            seen[values] = i
        price = r.price(item.get("price"), f"{here}.price")
        if values and price is not None:
            cells.append((values, price))
    return tuple(cells)


def _as_dict(raw: object) -> dict[str, object]:
    return dict(raw) if isinstance(raw, Mapping) else {}


def read_plan(
    raw: object, meters: Mapping[str, Sequence[str]], tax_rates: Sequence[str] = ()
) -> PlanDraft:
    """A whole plan document, or Problems listing everything wrong with it.
    `meters` maps the known meters' API names to their dimensions;
    `tax_rates` are the codes of the tax rates that exist."""
    r = _Reader()
    if not isinstance(raw, Mapping):
        raise Problems([Problem("", "a plan file must be a JSON object")])
    if raw.get("schema") != SCHEMA:
        r.fail("schema", f"must be {SCHEMA!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        r.fail("name", "is required")
    elif len(name.strip()) > MAX_NAME:
        r.fail("name", f"must be at most {MAX_NAME} characters")
    elif problem := unstorable_text_problem(name.strip()):
        r.fail("name", problem)
    period = raw.get("billing_period", "monthly")
    if period not in [p.value for p in Period]:
        r.fail("billing_period", f"must be one of {', '.join(p.value for p in Period)}")
    currency = raw.get("currency", "USD")
    if currency not in CURRENCIES:
        r.fail("currency", f"must be one of {', '.join(CURRENCIES)}")
    terms, term_problems = read_terms(raw)
    r.problems += term_problems
    charges, charge_problems = read_invoice_charges(raw, str(currency))
    r.problems += charge_problems
    codes, code_problems = read_tax_rate_codes(raw.get("tax_rates"), tax_rates)
    r.problems += code_problems
    rates_raw = raw.get("rates", [])
    rates: list[RateDraft] = []
    if not isinstance(rates_raw, list):
        r.fail("rates", "must be a list")
        rates_raw = []
    elif plan_limits := _plan_limits(rates_raw):
        # Over a plan-wide limit: say so, and which rates are over their own,
        # without reading any rate.
        r.problems += plan_limits
        rates_raw = []
    seen_meters: set[str] = set()
    for i, item in enumerate(rates_raw):
        draft = _rate(r, item, f"rates[{i}]", meters)
        if draft and draft.meter in seen_meters:
            r.fail(f"rates[{i}].meter", f"{draft.meter} already has a rate in this plan")
        elif draft:
            seen_meters.add(draft.meter)
            rates.append(draft)
    if r.problems or terms is None or charges is None:
        raise Problems(r.problems)
    return PlanDraft(
        str(name).strip(), str(period), str(currency), tuple(rates), terms, charges, codes
    )


def _plan_limits(rates: list[object]) -> list[Problem]:
    """The plan-wide limits a list of rate documents breaks, with the limits of
    each rate when one is broken too; [] when the rates can be read one by one
    (each then stops at its own limits, and together they fit the plan's)."""
    if len(rates) > MAX_RATES:
        return [Problem("rates", _too_many(len(rates), MAX_RATES, "rates"))]
    total, problems = Size(), list[Problem]()
    for i, item in enumerate(rates):
        size, limits = rate_size(item, f"rates[{i}]")
        if limits:
            problems += limits
        else:
            total += size
    plan = plan_size_problems(total, "rates")
    return problems + plan if plan else []


def plan_size_problems(size: Size, path: str) -> list[Problem]:
    """The plan-wide limits a plan of this size breaks."""
    problems: list[Problem] = []
    if size.rates > MAX_RATES:
        problems.append(Problem(path, _too_many(size.rates, MAX_RATES, "rates")))
    if size.prices > MAX_PLAN_PRICES:
        message = f"hold {size.prices:,} prices in all; at most {MAX_PLAN_PRICES:,} are allowed"
        problems.append(Problem(path, f"{message} in one plan"))
    if size.tiers > MAX_PLAN_TIERS:
        message = f"hold {size.tiers:,} tiers in all; at most {MAX_PLAN_TIERS:,} are allowed"
        problems.append(Problem(path, f"{message} in one plan"))
    return problems


def rate_room_problems(plan: Size, draft: RateDraft) -> list[Problem]:
    """What adding the checked rate `draft` to a plan of size `plan` would
    break: rates added one at a time (the editor, the API) are held to the same
    plan-wide limits as a whole document."""
    size, problems = draft.size, list[Problem]()
    if plan.rates + size.rates > MAX_RATES:
        problems.append(
            Problem("", f"the plan already has {plan.rates:,} rates, the most one plan may have")
        )
    for what, have, adding, limit in (
        ("prices", plan.prices, size.prices, MAX_PLAN_PRICES),
        ("tiers", plan.tiers, size.tiers, MAX_PLAN_TIERS),
    ):
        if have + adding > limit:
            problems.append(
                Problem(
                    "",
                    f"the plan's rates hold {have:,} {what} and this rate {adding:,}; "
                    f"at most {limit:,} are allowed in one plan",
                )
            )
    return problems


def _text(value: Decimal) -> str:
    """`0.010000000000000` -> `"0.01"`, `1E+2` -> `"100"`: exact, no exponent."""
    return format(value.normalize(EXACT), "f")


def price_to_dict(price: CellPrice) -> dict[str, object]:
    out: dict[str, object] = {"model": price.model.value}
    if price.model is PriceModel.PER_UNIT:
        out["unit_price"] = _text(price.unit_price)
    elif price.model is PriceModel.PACKAGE:
        out["package_size"] = _text(price.package_size)
        out["package_price"] = _text(price.package_price)
        out["package_rounding"] = price.package_rounding.value
    else:
        out["tiers"] = [
            {
                "up_to": None if t.up_to is None else _text(t.up_to),
                "unit_price": _text(t.unit_price),
                "flat_fee": _text(t.flat_fee),
            }
            for t in price.tiers
        ]
    out["free_units"] = _text(price.free_units)
    return out


def rate_to_dict(draft: RateDraft) -> dict[str, object]:
    out: dict[str, object] = {"meter": draft.meter, "model": draft.model}
    if draft.model == "dimensions":
        out["dimensions"] = list(draft.dimensions)
        out["cells"] = [{"values": list(v), "price": price_to_dict(p)} for v, p in draft.cells]
        out["default_price"] = price_to_dict(draft.default_price) if draft.default_price else None
    else:
        price = price_to_dict(draft.cells[0][1])
        price.pop("model")
        out["price"] = price
    out["minimum_charge"] = None if draft.minimum_charge is None else _text(draft.minimum_charge)
    out["base_fee"] = None if draft.base_fee is None else _text(draft.base_fee)
    # Written for every rate, tiered or not: the file says what the stored
    # rate says, and a rate switched to tiers later keeps its choice.
    out["first_tier_fee_at_zero"] = draft.first_tier_fee_at_zero
    return out


def _money_text(value: Decimal, currency: str) -> str:
    """An invoice-level amount with its currency's decimals: `"50.00"`, `"500"`
    in JPY. Exact: such amounts are held to the minor unit when read."""
    return format(round_money(value, currency), "f")


def plan_to_dict(draft: PlanDraft) -> dict[str, object]:
    charges, currency = draft.charges, draft.currency
    minimum = charges.invoice_minimum
    return {
        "schema": SCHEMA,
        "name": draft.name,
        "billing_period": draft.billing_period,
        "currency": draft.currency,
        "billing_anchor": draft.terms.billing_anchor.value,
        "grace_period_hours": draft.terms.grace_period_hours,
        "net_terms_days": draft.terms.net_terms_days,
        "late_usage_policy": draft.terms.late_usage_policy.value,
        "invoice_minimum": None if minimum is None else _money_text(minimum, currency),
        "one_time_fees": [
            {"description": fee.description, "amount": _money_text(fee.amount, currency)}
            for fee in charges.one_time_fees
        ],
        "tax_rates": list(draft.tax_rates),
        "rates": [rate_to_dict(r) for r in draft.rates],
    }
