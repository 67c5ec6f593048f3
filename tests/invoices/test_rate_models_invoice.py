"""Every rate model through the database to the invoice and its PDF: the
amounts docs/PRICING.md predicts, set up with the services the screens use."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from pypdf import PdfReader
from time_machine import TimeMachineFixture

from customers.models import Customer
from customers.services import customer_create, plan_assign
from invoices.builder import Invoice, PeriodRef, build_invoice, customer_periods
from invoices.pdf import render_invoice_pdf
from meters.models import Meter
from meters.services import events_ingest, meter_create
from pricing.models import Plan
from pricing.money import round_money
from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier
from pricing.rating import LineKind
from pricing.schema import RateDraft
from pricing.services import plan_create, rate_save
from tests.factories import millis

pytestmark = pytest.mark.django_db

D = Decimal
# April has 30 days: an assignment ending on 11 April covers 10/30 of it.
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
NOW = datetime(2025, 4, 20, 12, 0, tzinfo=UTC)
USED_AT = datetime(2025, 4, 5, 9, 30, tzinfo=UTC)

STRIPE_TIERS = (
    Tier(D("5"), D("5")),
    Tier(D("10"), D("4")),
    Tier(D("15"), D("3")),
    Tier(D("20"), D("2")),
    Tier(None, D("1")),
)
INPUT_TIERS = (Tier(D("1000000"), D("0.000002")), Tier(None, D("0.000001")))


@pytest.fixture(autouse=True)
def now(time_machine: TimeMachineFixture) -> datetime:
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def meters(db: None) -> dict[str, Meter]:
    specs = {
        "api-calls": ("API calls", []),
        "builds": ("Builds", []),
        "emails": ("Emails", []),
        "requests": ("Requests", []),
        "llm-tokens": ("LLM tokens", ["model", "type"]),
    }
    return {
        api_name: meter_create(
            label=label, api_name=api_name, meter_type="count", dimensions=dimensions
        )
        for api_name, (label, dimensions) in specs.items()
    }


def rate(plan: Plan, meter: Meter, price: CellPrice, model: str, **charges: Decimal) -> None:
    draft = RateDraft(meter.api_name, model, (), (((), price),), **charges)
    rate_save(plan=plan, meter=meter, draft=draft)


def customer_on(plan: Plan, customer_id: str, *, end_at: datetime | None = None) -> Customer:
    customer = customer_create(name=customer_id.title(), customer_id=customer_id)
    plan_assign(customer=customer, plan=plan, start_at=APRIL, end_at=end_at)
    return customer


def use(customer: Customer, meter: str, value: int | str, **dimensions: str) -> None:
    record: dict[str, object] = {
        "meterApiName": meter,
        "meterValue": D(str(value)),
        "customerId": customer.customer_id,
        "meterTimeInMillis": millis(USED_AT),
        "uniqueId": f"{meter}-{'-'.join(dimensions.values()) or 'all'}",
    }
    if dimensions:
        record["dimensions"] = dimensions
    result = events_ingest(records=[record], now=NOW)
    assert (result.accepted, result.rejected) == (1, []), result


def april_invoice(customer: Customer) -> Invoice:
    [ref] = [r for r in customer_periods(customer, NOW) if r.period.start == APRIL]
    return build_invoice(customer, ref)


def rows(invoice: Invoice) -> list[tuple[str, str, Decimal]]:
    return [(ln.description, ln.explanation, ln.amount) for ln in invoice.lines]


def pdf_text(invoice: Invoice) -> str:
    reader = PdfReader(io.BytesIO(render_invoice_pdf(invoice)))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


# --- one invoice with every model (docs/PRICING.md, "The models on one invoice") -----------


@pytest.fixture
def every_model(meters: dict[str, Meter]) -> Customer:
    plan = plan_create(name="Every model", billing_period="monthly", currency="USD")
    graduated = CellPrice(model=PriceModel.GRADUATED, tiers=STRIPE_TIERS)
    rate(plan, meters["api-calls"], graduated, "graduated")
    rate(plan, meters["builds"], CellPrice(model=PriceModel.VOLUME, tiers=STRIPE_TIERS), "volume")
    emails = CellPrice(model=PriceModel.PACKAGE, package_size=D("100"), package_price=D("9"))
    rate(plan, meters["emails"], emails, "package")
    rate(
        plan,
        meters["requests"],
        CellPrice(D("0.01"), free_units=D("1000")),
        "per_unit",
        minimum_charge=D("20"),
        base_fee=D("10"),
    )
    tokens = meters["llm-tokens"]
    matrix = RateDraft(
        tokens.api_name,
        "dimensions",
        ("model", "type"),
        (
            (("model a", "input"), CellPrice(model=PriceModel.GRADUATED, tiers=INPUT_TIERS)),
            (("model a", "output"), CellPrice(D("0.000008"))),
        ),
        default_price=CellPrice(D("0.00001")),
    )
    rate_save(plan=plan, meter=tokens, draft=matrix)

    customer = customer_on(plan, "every-model")
    use(customer, "api-calls", 6)
    use(customer, "builds", 6)
    use(customer, "emails", 250)
    use(customer, "requests", 1500)
    use(customer, "llm-tokens", 1500000, model="model a", type="input")
    use(customer, "llm-tokens", 200000, model="model a", type="output")
    use(customer, "llm-tokens", 100000, model="model c", type="input")
    return customer


EVERY_MODEL_LINES = [
    ("API calls", "5 × $5.00 + 1 × $4.00", D("29.00")),
    ("Builds", "6 × $4.00 (tier up to 10)", D("24.00")),
    ("Emails", "3 packages of 100 × $9.00", D("27.00")),
    ("LLM tokens · model a · input", "1,000,000 × $0.000002 + 500,000 × $0.000001", D("2.50")),
    ("LLM tokens · model a · output", "", D("1.60")),
    ("LLM tokens · model c · input (default price)", "", D("1.00")),
    ("Requests", "1,000 free; 500 × $0.01", D("5.00")),
    ("Requests · base fee", "", D("10.00")),
    ("Requests · minimum charge true-up", "", D("15.00")),
]


def test_every_model_is_priced_on_one_invoice(every_model: Customer) -> None:
    invoice = april_invoice(every_model)

    assert rows(invoice) == EVERY_MODEL_LINES
    assert invoice.unpriced == []
    assert [(s.meter_label, s.rate_model, s.subtotal) for s in invoice.sections] == [
        ("API calls", "Graduated tiers", D("29.00")),
        ("Builds", "Volume tiers", D("24.00")),
        ("Emails", "Package", D("27.00")),
        ("LLM tokens", "Dimensions (pricing matrix)", D("5.10")),
        ("Requests", "Per unit", D("30.00")),
    ]
    assert invoice.total == D("115.10")


def test_the_invoice_total_is_the_sum_of_rounded_lines(every_model: Customer) -> None:
    invoice = april_invoice(every_model)

    assert invoice.total == sum((ln.amount for ln in invoice.lines), D(0))
    for line in invoice.lines:
        assert line.amount == round_money(line.exact_amount, "USD")
    # 1,500,000 tokens across the two tiers cost exactly $2.50.
    assert invoice.lines[3].exact_amount == D("2.500000")


def test_each_line_says_what_kind_of_charge_it_is(every_model: Customer) -> None:
    kinds = [ln.kind for ln in april_invoice(every_model).lines]

    assert kinds == [LineKind.USAGE] * 7 + [LineKind.BASE_FEE, LineKind.MINIMUM]


def test_without_a_default_price_the_unlisted_combination_is_unpriced(
    meters: dict[str, Meter],
) -> None:
    plan = plan_create(name="Listed only", billing_period="monthly", currency="USD")
    tokens = meters["llm-tokens"]
    matrix = RateDraft(
        tokens.api_name,
        "dimensions",
        ("model", "type"),
        ((("model a", "input"), CellPrice(D("1"))),),
    )
    rate_save(plan=plan, meter=tokens, draft=matrix)
    customer = customer_on(plan, "listed-only")
    use(customer, "llm-tokens", 100000, model="model c", type="input")

    invoice = april_invoice(customer)

    assert invoice.lines == []
    [unpriced] = invoice.unpriced
    assert (unpriced.quantity, unpriced.reason) == (
        D("100000"),
        "no price for model c · input in the pricing matrix",
    )
    assert invoice.total == D("0")


def test_the_pdf_shows_each_explanation_and_amount(every_model: Customer) -> None:
    text = pdf_text(april_invoice(every_model))

    for description, explanation, amount in EVERY_MODEL_LINES:
        assert description in text
        assert explanation in text
        assert f"${amount}" in text
    # Tiered and package lines have no single unit price to print.
    assert re.search(r"5 × \$5\.00 \+ 1 × \$4\.00 6 see detail \$29\.00", text), text
    assert "Subtotal · Requests $30.00" in text
    assert re.search(r"Total \$115\.10", text)


# --- proration: an assignment ending mid-period ----------------------------------------------


@pytest.fixture
def ended_early(meters: dict[str, Meter]) -> Customer:
    plan = plan_create(name="Prorated", billing_period="monthly", currency="USD")
    rate(
        plan,
        meters["requests"],
        CellPrice(D("0.01")),
        "per_unit",
        minimum_charge=D("20"),
        base_fee=D("30"),
    )
    customer = customer_on(plan, "ended-early", end_at=datetime(2025, 4, 11, tzinfo=UTC))
    use(customer, "requests", 200)
    return customer


def test_an_assignment_ending_mid_period_prorates_base_fee_and_minimum(
    ended_early: Customer,
) -> None:
    invoice = april_invoice(ended_early)

    assert invoice.ref.coverage == Fraction(10, 30)  # exactly a third
    share = "(prorated: 33.33% of the period)"
    assert rows(invoice) == [
        ("Requests", "", D("2.00")),
        (f"Requests · base fee {share}", "", D("10.00")),
        (f"Requests · minimum charge true-up {share}", "", D("4.67")),
    ]
    assert invoice.total == D("16.67")


def test_a_whole_period_charges_the_whole_base_fee_and_minimum(
    meters: dict[str, Meter],
) -> None:
    plan = plan_create(name="Whole", billing_period="monthly", currency="USD")
    rate(
        plan,
        meters["requests"],
        CellPrice(D("0.01")),
        "per_unit",
        minimum_charge=D("20"),
        base_fee=D("30"),
    )
    customer = customer_on(plan, "whole-month")
    use(customer, "requests", 200)

    invoice = april_invoice(customer)

    assert rows(invoice) == [
        ("Requests", "", D("2.00")),
        ("Requests · base fee", "", D("30.00")),
        ("Requests · minimum charge true-up", "", D("18.00")),
    ]
    assert invoice.total == D("50.00")


def test_the_pdf_says_the_fees_are_prorated(ended_early: Customer) -> None:
    text = pdf_text(april_invoice(ended_early))

    assert "Requests · base fee (prorated: 33.33% of the period) $10.00" in text
    assert "Requests · minimum charge true-up (prorated: 33.33% of the period) $4.67" in text
    assert re.search(r"Total \$16\.67", text)


def test_coverage_of_an_open_assignment_is_the_whole_period(every_model: Customer) -> None:
    ref: PeriodRef = april_invoice(every_model).ref

    assert ref.coverage == D(1)


# --- currencies with 0 and 3 decimals ----------------------------------------------------------


def test_a_yen_plan_rounds_each_line_to_whole_yen(meters: dict[str, Meter]) -> None:
    plan = plan_create(name="Yen", billing_period="monthly", currency="JPY")
    tiers = (Tier(D("10"), D("1.5")), Tier(None, D("0.75")))
    price = CellPrice(model=PriceModel.GRADUATED, tiers=tiers)
    rate(plan, meters["api-calls"], price, "graduated", base_fee=D("100.5"))
    customer = customer_on(plan, "yen")
    use(customer, "api-calls", 15)

    invoice = april_invoice(customer)

    assert [(ln.exact_amount, ln.amount) for ln in invoice.lines] == [
        (D("18.75"), D("19")),
        (D("100.5"), D("101")),  # half up: half-even would charge ¥100
    ]
    assert [str(ln.amount) for ln in invoice.lines] == ["19", "101"]
    assert invoice.total == D("120")
    text = pdf_text(invoice)
    assert "10 × ¥1.5 + 5 × ¥0.75" in text
    assert "¥19" in text
    assert re.search(r"Total ¥120", text)


def test_a_dinar_plan_rounds_each_line_to_three_places(meters: dict[str, Meter]) -> None:
    plan = plan_create(name="Dinar", billing_period="monthly", currency="KWD")
    rate(plan, meters["api-calls"], CellPrice(D("0.0125")), "per_unit", base_fee=D("1.2345"))
    customer = customer_on(plan, "dinar")
    use(customer, "api-calls", 3)

    invoice = april_invoice(customer)

    assert [(ln.exact_amount, ln.amount) for ln in invoice.lines] == [
        (D("0.0375"), D("0.038")),
        (D("1.2345"), D("1.235")),  # half up: half-even would charge KWD 1.234
    ]
    assert [str(ln.amount) for ln in invoice.lines] == ["0.038", "1.235"]
    assert invoice.total == D("1.273")
    text = pdf_text(invoice)
    assert "KWD 0.038" in text
    assert re.search(r"Total KWD\s1\.273", text)


def test_a_package_with_fractional_usage_counts_whole_blocks(meters: dict[str, Meter]) -> None:
    plan = plan_create(name="Storage", billing_period="monthly", currency="USD")
    price = CellPrice(
        model=PriceModel.PACKAGE,
        package_size=D("100"),
        package_price=D("9"),
        package_rounding=PackageRounding.DOWN,
    )
    rate(plan, meters["emails"], price, "package")
    customer = customer_on(plan, "storage")
    use(customer, "emails", "250.5")

    invoice = april_invoice(customer)

    assert rows(invoice) == [("Emails", "2 packages of 100 × $9.00", D("18.00"))]
