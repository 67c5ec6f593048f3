"""From an invoice's priced lines to the amount due: each step at its edges.

Every number here is a worked example in docs/PRICING.md, "From charges to
amount due" (the docs and these tests must agree). No database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pricing.invoice_steps import (
    MINIMUM_TRUE_UP_KEY,
    Charge,
    CreditGrant,
    Discount,
    DiscountKind,
    InvoiceSteps,
    LineSource,
    TaxRate,
    TaxStatus,
    credit_order,
    invoice_steps,
)
from pricing.rating import LineKind, PricedLine

D = Decimal
ISSUED = datetime(2025, 5, 1, tzinfo=UTC)  # the April invoice's issue instant
VAT = TaxRate("VAT", D("20"), "GB")


def run(charges: Sequence[Charge], currency: str = "USD", **options: Any) -> InvoiceSteps:
    return invoice_steps(currency=currency, charges=charges, issued_at=ISSUED, **options)


def lines(*amounts: str, currency: str = "USD") -> list[Charge]:
    """Charges keyed l1, l2… on rates 1, 2… and meters 11, 12…"""
    return [
        Charge(f"l{i}", f"Line {i}", D(a), rate_id=i, meter_id=10 + i)
        for i, a in enumerate(amounts, start=1)
    ]


def fixed(amount: str, currency: str | None = "USD", id: str = "fixed", **scope: Any) -> Discount:
    return Discount(id, f"{amount} off", DiscountKind.FIXED, D(amount), currency, **scope)


def percent(value: str, id: str = "percent", **scope: Any) -> Discount:
    return Discount(id, f"{value}% off", DiscountKind.PERCENTAGE, D(value), **scope)


def grant(
    id: str,
    balance: str,
    effective: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    expires: datetime | None = None,
    priority: int = 50,
    currency: str = "USD",
) -> CreditGrant:
    return CreditGrant(id, D(balance), currency, effective, expires, priority)


def column(result: InvoiceSteps, name: str) -> list[str]:
    return [str(getattr(line, name)) for line in result.lines]


def assert_adds_up(result: InvoiceSteps) -> None:
    assert (
        result.charges_total
        - result.discount_total
        + result.minimum_true_up
        - result.commitment_drawn
        + result.tax_added
        - result.credits_total
        == result.amount_due
    )


# --- one invoice, every step (the docs' full example) --------------------------------------


def full_example() -> InvoiceSteps:
    return run(
        [
            Charge("api", "API calls", D("120.00"), rate_id=1, meter_id=1),
            Charge("tokens", "LLM tokens", D("45.50"), rate_id=2, meter_id=2),
            Charge("base", "Platform base fee", D("30.00"), LineKind.BASE_FEE, rate_id=3),
        ],
        one_time_fees=[Charge("setup", "Setup fee", D("50.00"))],
        discounts=[
            fixed("20.00", id="WELCOME", rate_ids=frozenset({1, 3})),
            percent("10", id="TOKENS10", meter_ids=frozenset({2})),
        ],
        minimum=D("200.00"),
        tax_rates=[VAT],
        grants=[
            grant("paid", "100.00"),
            grant(
                "promo", "25.00", datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 6, 1, tzinfo=UTC)
            ),
        ],
    )


def test_the_full_example_walks_every_step_to_the_amount_due() -> None:
    result = full_example()

    assert [(ln.source, ln.charge.key) for ln in result.lines] == [
        (LineSource.CHARGE, "api"),
        (LineSource.CHARGE, "tokens"),
        (LineSource.CHARGE, "base"),
        (LineSource.ONE_TIME_FEE, "setup"),
        (LineSource.MINIMUM_TRUE_UP, MINIMUM_TRUE_UP_KEY),
    ]
    assert column(result, "discount") == ["16.00", "4.55", "4.00", "0.00", "0.00"]
    assert column(result, "taxable") == ["104.00", "40.95", "26.00", "50.00", "29.05"]
    assert column(result, "tax") == ["20.80", "8.19", "5.20", "10.00", "5.81"]
    assert column(result, "total") == ["124.80", "49.14", "31.20", "60.00", "34.86"]
    # The percentage ran first although given second; each discount reports its own total.
    assert [(d.discount.id, str(d.applied)) for d in result.discounts] == [
        ("WELCOME", "20.00"),
        ("TOKENS10", "4.55"),
    ]
    assert result.minimum is not None
    assert (str(result.minimum.spend), str(result.minimum.true_up)) == ("170.95", "29.05")
    [vat] = result.tax_summary
    assert (vat.rate, str(vat.base), str(vat.tax)) == (VAT, "250.00", "50.00")
    # The promotional grant expires first, so it is drawn first.
    assert [(c.grant_id, str(c.drawn), str(c.balance_after)) for c in result.credits] == [
        ("promo", "25.00", "0.00"),
        ("paid", "100.00", "0.00"),
    ]
    totals = {
        name: str(getattr(result, name))
        for name in (
            "charges_total",
            "discount_total",
            "minimum_true_up",
            "subtotal",
            "tax_added",
            "total",
            "credits_total",
            "amount_due",
        )
    }
    assert totals == {
        "charges_total": "245.50",
        "discount_total": "24.55",
        "minimum_true_up": "29.05",
        "subtotal": "250.00",
        "tax_added": "50.00",
        "total": "300.00",
        "credits_total": "125.00",
        "amount_due": "175.00",
    }
    assert_adds_up(result)


def test_a_priced_line_becomes_a_charge_with_its_rate_and_kind() -> None:
    priced = PricedLine(
        7, "Requests · base fee", (), D(1), None, D("30"), D("30.00"), LineKind.BASE_FEE
    )

    charge = Charge.from_priced_line("requests-base", priced, meter_id=3)

    assert charge == Charge(
        "requests-base", "Requests · base fee", D("30.00"), LineKind.BASE_FEE, 7, 3
    )


# --- discounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amounts", "discount", "parts"),
    [
        # Three equal lines: 1,000 cents / 3 = 333 each, the cent left over to the first.
        (("15.00", "15.00", "15.00"), "10.00", ["3.34", "3.33", "3.33"]),
        # In proportion: 166.67, 333.33 and 500 cents; the largest remainder (.67) takes the cent.
        (("10.00", "20.00", "30.00"), "10.00", ["1.67", "3.33", "5.00"]),
        (("0.01", "0.01", "0.01"), "0.02", ["0.01", "0.01", "0.00"]),
        (("5.00", "0.00", "5.00"), "1.00", ["0.50", "0.00", "0.50"]),
    ],
)
def test_a_fixed_discount_is_split_in_proportion_and_adds_up_exactly(
    amounts: tuple[str, ...], discount: str, parts: list[str]
) -> None:
    result = run(lines(*amounts), discounts=[fixed(discount)])

    assert column(result, "discount") == parts
    assert str(result.discount_total) == discount


def test_a_discount_larger_than_the_charges_stops_at_zero_and_the_rest_is_unused() -> None:
    result = run(lines("20.00", "10.00"), discounts=[fixed("50.00")], tax_rates=[VAT])

    assert column(result, "discount") == ["20.00", "10.00"]
    assert column(result, "taxable") == ["0.00", "0.00"]
    [applied] = result.discounts
    assert (str(applied.applied), str(applied.unused)) == ("30.00", "20.00")
    assert (str(result.tax_added), str(result.total), str(result.amount_due)) == (
        "0.00",
        "0.00",
        "0.00",
    )


def test_a_percentage_is_rounded_per_line() -> None:
    # 10% of 5 cents is half a cent, a cent on each line: 3 cents, not 10% of 15 (2 cents).
    result = run(lines("0.05", "0.05", "0.05"), discounts=[percent("10")])

    assert column(result, "discount") == ["0.01", "0.01", "0.01"]
    assert str(result.discount_total) == "0.03"


def test_a_hundred_percent_discount_leaves_nothing_to_pay() -> None:
    result = run(lines("12.34", "0.01"), discounts=[percent("100")], tax_rates=[VAT])

    assert column(result, "taxable") == ["0.00", "0.00"]
    assert str(result.amount_due) == "0.00"


@pytest.mark.parametrize(
    ("discounts", "discount", "total"),
    [
        # Percentages compound: 10% of 100, then 10% of the 90 left.
        ([percent("10", id="a"), percent("10", id="b")], "19.00", "81.00"),
        # Percentages before fixed amounts, whatever order they were given in.
        ([percent("10"), fixed("5.00")], "15.00", "85.00"),
        ([fixed("5.00"), percent("10")], "15.00", "85.00"),
    ],
)
def test_several_discounts_apply_percentages_first_then_fixed_amounts(
    discounts: list[Discount], discount: str, total: str
) -> None:
    result = run(lines("100.00"), discounts=discounts)

    assert (str(result.discount_total), str(result.total)) == (discount, total)


def test_a_scoped_discount_covers_only_its_rates_and_meters() -> None:
    result = run(
        lines("10.00", "10.00", "10.00"),
        discounts=[percent("50", rate_ids=frozenset({1}), meter_ids=frozenset({13}))],
    )

    assert column(result, "discount") == ["5.00", "0.00", "5.00"]


def test_a_whole_invoice_discount_covers_a_one_time_fee() -> None:
    result = run(
        lines("30.00"),
        one_time_fees=[Charge("setup", "Setup fee", D("10.00"))],
        discounts=[fixed("4.00")],
    )

    assert column(result, "discount") == ["3.00", "1.00"]


@pytest.mark.parametrize(
    ("discount", "message"),
    [
        (fixed("5.00", currency="EUR"), "is in EUR, the invoice in USD"),
        (fixed("5.00", currency=None), "is in no currency"),
        (Discount("x", "", DiscountKind.PERCENTAGE, D("10"), "EUR"), "is in EUR"),
        (percent("0"), "above 0, at most 100"),
        (percent("120"), "above 0, at most 100"),
        (fixed("0.001"), "finer than the USD minor unit"),
        (fixed("-1.00"), "is negative"),
    ],
)
def test_a_discount_that_does_not_fit_the_invoice_is_refused(
    discount: Discount, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(lines("10.00"), discounts=[discount])


def test_two_discounts_with_one_id_are_refused() -> None:
    with pytest.raises(ValueError, match="discount ids must be unique"):
        run(lines("10.00"), discounts=[percent("10", id="a"), fixed("1.00", id="a")])


# --- the invoice minimum -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amounts", "discounts", "spend", "true_up", "subtotal"),
    [
        (("60.00", "20.00"), [], "80.00", "20.00", "100.00"),
        # After discounts: $80 less 10% is $72, so the true-up is $28. (Lago counts the
        # fees before discounts: its true-up would be $20.)
        (("60.00", "20.00"), [percent("10")], "72.00", "28.00", "100.00"),
        (("100.00",), [], "100.00", "0.00", "100.00"),  # exactly the minimum: no true-up
        (("150.00",), [], "150.00", "0.00", "150.00"),
        (("0.00",), [], "0.00", "100.00", "100.00"),
    ],
)
def test_the_invoice_minimum_trues_up_fees_and_usage_after_discounts(
    amounts: tuple[str, ...],
    discounts: list[Discount],
    spend: str,
    true_up: str,
    subtotal: str,
) -> None:
    result = run(lines(*amounts), discounts=discounts, minimum=D("100.00"))

    assert result.minimum is not None
    assert (str(result.minimum.spend), str(result.minimum.true_up)) == (spend, true_up)
    true_ups = [ln for ln in result.lines if ln.source is LineSource.MINIMUM_TRUE_UP]
    assert [str(ln.charge.amount) for ln in true_ups] == ([true_up] if true_up != "0.00" else [])
    assert str(result.subtotal) == subtotal


def test_a_one_time_fee_does_not_count_towards_the_minimum() -> None:
    result = run(
        lines("80.00"),
        one_time_fees=[Charge("setup", "Setup fee", D("500.00"))],
        minimum=D("100.00"),
    )

    assert str(result.minimum_true_up) == "20.00"
    assert str(result.subtotal) == "600.00"


# --- the prepaid commitment --------------------------------------------------------------------


def test_a_commitment_pays_the_charges_before_tax_and_the_rest_is_overage() -> None:
    result = run(lines("300.00", "100.00"), commitment_balance=D("250.00"), tax_rates=[VAT])

    assert result.commitment is not None
    step = result.commitment
    assert [str(v) for v in (step.balance_before, step.charges, step.drawn)] == [
        "250.00",
        "400.00",
        "250.00",
    ]
    assert (str(step.balance_after), str(step.overage)) == ("0.00", "150.00")
    assert column(result, "commitment") == ["187.50", "62.50"]
    assert column(result, "tax") == ["22.50", "7.50"]
    assert (str(result.subtotal), str(result.tax_added), str(result.total)) == (
        "150.00",
        "30.00",
        "180.00",
    )
    assert_adds_up(result)


def test_a_commitment_larger_than_the_charges_keeps_its_balance_and_not_the_setup_fee() -> None:
    result = run(
        lines("300.00", "100.00"),
        one_time_fees=[Charge("setup", "Setup fee", D("50.00"))],
        commitment_balance=D("1000.00"),
        tax_rates=[VAT],
    )

    assert result.commitment is not None
    assert (str(result.commitment.drawn), str(result.commitment.balance_after)) == (
        "400.00",
        "600.00",
    )
    assert column(result, "commitment") == ["300.00", "100.00", "0.00"]
    # Only the setup fee is left to pay, with its VAT.
    assert (str(result.subtotal), str(result.total)) == ("50.00", "60.00")


def test_a_commitment_is_shared_over_lines_in_whole_cents() -> None:
    result = run(lines("15.00", "15.00", "15.00"), commitment_balance=D("10.00"))

    assert column(result, "commitment") == ["3.34", "3.33", "3.33"]


def test_a_commitment_also_pays_the_minimum_true_up() -> None:
    result = run(lines("60.00"), minimum=D("100.00"), commitment_balance=D("500.00"))

    assert result.commitment is not None
    assert (str(result.commitment.drawn), str(result.commitment.balance_after)) == (
        "100.00",
        "400.00",
    )
    assert column(result, "commitment") == ["60.00", "40.00"]
    assert str(result.amount_due) == "0.00"


# --- tax ---------------------------------------------------------------------------------------


def test_vat_is_charged_per_line_on_the_discounted_amount() -> None:
    # $10 off three $15 lines, then 20% VAT on 11.66, 11.67, 11.67: 2.332 and 2.334
    # round to 2.33 each. The invoice's VAT is their sum, 6.99 (20% of 35.00 is 7.00).
    result = run(lines("15.00", "15.00", "15.00"), discounts=[fixed("10.00")], tax_rates=[VAT])

    assert column(result, "taxable") == ["11.66", "11.67", "11.67"]
    assert column(result, "tax") == ["2.33", "2.33", "2.33"]
    [vat] = result.tax_summary
    assert (str(vat.base), str(vat.tax)) == ("35.00", "6.99")
    assert str(result.total) == "41.99"


def test_inclusive_tax_is_taken_out_of_each_line_and_rounded_per_line() -> None:
    # €9.99 includes 9.99 × 19/119 = 1.5950… → 1.60 of VAT; €0.05 includes 0.00798… → 0.01.
    # Rounded once for the invoice it would be 10.04 × 19/119 = 1.6030… → 1.60.
    mwst = TaxRate("MwSt", D("19"), "DE", inclusive=True)
    result = run(lines("9.99", "0.05"), currency="EUR", tax_rates=[mwst])

    assert column(result, "tax") == ["1.60", "0.01"]
    assert column(result, "net") == ["8.39", "0.04"]
    assert column(result, "total") == ["9.99", "0.05"]
    [row] = result.tax_summary
    assert (str(row.base), str(row.tax)) == ("8.43", "1.61")
    assert (str(result.tax_included), str(result.tax_added)) == ("1.61", "0.00")
    assert (str(result.total), str(result.amount_due)) == ("10.04", "10.04")
    assert_adds_up(result)


def test_two_inclusive_rates_share_the_line_tax_rounded_once() -> None:
    # $100 includes 100 × 0.15 / 1.15 = 13.0434… → 13.04, shared 1:2 → 4.35 and 8.69.
    rates = [TaxRate("GST", D("5"), "CA", True), TaxRate("PST", D("10"), "CA-BC", True)]
    result = run(lines("100.00"), currency="CAD", tax_rates=rates)

    [line] = result.lines
    assert [(t.rate.name, str(t.base), str(t.tax)) for t in line.taxes] == [
        ("GST", "86.96", "4.35"),
        ("PST", "86.96", "8.69"),
    ]
    assert (str(line.net), str(line.tax), str(line.total)) == ("86.96", "13.04", "100.00")


def test_stacked_exclusive_rates_are_each_rounded_on_the_line() -> None:
    # $10 × 6.25% = 0.625 → 0.63; × 2.25% = 0.225 → 0.23.
    rates = [TaxRate("State", D("6.25"), "US-TX"), TaxRate("City", D("2.25"), "US-TX-Austin")]
    result = run(lines("10.00"), tax_rates=rates)

    assert [str(row.tax) for row in result.tax_summary] == ["0.63", "0.23"]
    assert str(result.total) == "10.86"


@pytest.mark.parametrize(
    ("status", "note"),
    [
        (
            TaxStatus.REVERSE_CHARGE,
            "Reverse charge: no tax charged; the customer accounts for the tax.",
        ),
        (TaxStatus.EXEMPT, "Tax exempt: no tax charged."),
    ],
)
def test_reverse_charge_and_exempt_customers_are_charged_no_tax(
    status: TaxStatus, note: str
) -> None:
    result = run(lines("104.00", "40.95"), tax_rates=[VAT], tax_status=status)

    assert column(result, "tax") == ["0.00", "0.00"]
    [vat] = result.tax_summary
    assert (str(vat.base), str(vat.tax)) == ("144.95", "0.00")
    assert result.tax_note == note
    assert str(result.total) == "144.95"


def test_an_exempt_customer_pays_an_inclusive_price_as_listed() -> None:
    mwst = TaxRate("MwSt", D("19"), "DE", inclusive=True)
    result = run(lines("9.99"), currency="EUR", tax_rates=[mwst], tax_status=TaxStatus.EXEMPT)

    assert column(result, "net") == ["9.99"]
    assert str(result.total) == "9.99"


def test_a_line_can_name_its_own_rates() -> None:
    result = run(
        lines("10.00", "10.00"),
        tax_rates=[VAT],
        line_tax_rates={"l2": (TaxRate("Reduced", D("5"), "GB"),), "l1": ()},
    )

    assert column(result, "tax") == ["0.00", "0.50"]
    assert [(row.rate.name, str(row.base)) for row in result.tax_summary] == [("Reduced", "10.00")]


def test_a_line_with_inclusive_and_exclusive_rates_is_refused() -> None:
    with pytest.raises(ValueError, match="all inclusive or all not"):
        run(lines("10.00"), tax_rates=[VAT, TaxRate("X", D("1"), "GB", inclusive=True)])


# --- currencies: yen and dinar -----------------------------------------------------------------


def test_yen_discounts_and_tax_round_to_whole_yen() -> None:
    # 10% of ¥1,234 = 123.4 → ¥123, of ¥567 = 56.7 → ¥57; 10% tax on 1,111 = 111.1 → ¥111,
    # on 510 = ¥51.
    result = run(
        lines("1234", "567"),
        currency="JPY",
        discounts=[percent("10")],
        tax_rates=[TaxRate("Consumption tax", D("10"), "JP")],
    )

    assert column(result, "discount") == ["123", "57"]
    assert column(result, "tax") == ["111", "51"]
    assert (str(result.subtotal), str(result.tax_added), str(result.total)) == (
        "1621",
        "162",
        "1783",
    )


def test_dinar_keeps_three_places_through_every_step() -> None:
    # KWD 0.100 off the base fee; 5% tax: 0.038 → 0.0019 → 0.002, 1.135 → 0.05675 → 0.057.
    result = run(
        [
            Charge("usage", "API calls", D("0.038"), rate_id=1),
            Charge("base", "Base fee", D("1.235"), LineKind.BASE_FEE, rate_id=2),
        ],
        currency="KWD",
        discounts=[fixed("0.100", "KWD", rate_ids=frozenset({2}))],
        tax_rates=[TaxRate("VAT", D("5"), "KW")],
        grants=[grant("g", "0.500", currency="KWD")],
    )

    assert column(result, "taxable") == ["0.038", "1.135"]
    assert column(result, "tax") == ["0.002", "0.057"]
    assert [str(v) for v in (result.subtotal, result.tax_added, result.total)] == [
        "1.173",
        "0.059",
        "1.232",
    ]
    assert (str(result.credits_total), str(result.amount_due)) == ("0.500", "0.732")


@pytest.mark.parametrize(
    ("currency", "amount"),
    [("USD", "0.001"), ("JPY", "1.5"), ("KWD", "0.0001"), ("USD", "-0.01")],
)
def test_a_line_that_is_not_whole_minor_units_is_refused(currency: str, amount: str) -> None:
    with pytest.raises(ValueError, match="line 'l1'"):
        run(lines(amount), currency=currency)


def test_duplicate_line_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="line keys must be unique"):
        run(lines("1.00"), one_time_fees=[Charge("l1", "Setup", D("1.00"))])


# --- credits -----------------------------------------------------------------------------------


def test_credits_larger_than_the_invoice_pay_it_all_and_keep_the_rest() -> None:
    result = run(lines("30.60"), tax_rates=[VAT], grants=[grant("g", "500.00")])

    [drawn] = result.credits
    assert (str(drawn.drawn), str(drawn.balance_after)) == ("36.72", "463.28")
    assert str(result.amount_due) == "0.00"


MAY = datetime(2025, 5, 1, tzinfo=UTC)
JUNE = datetime(2025, 6, 1, tzinfo=UTC)
JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("grants", "order"),
    [
        # Soonest expiry first, no expiry last.
        ([grant("never", "1.00"), grant("june", "1.00", expires=JUNE)], ["june", "never"]),
        # Same expiry: the lower priority number first.
        (
            [grant("p50", "1.00", expires=JUNE), grant("p10", "1.00", expires=JUNE, priority=10)],
            ["p10", "p50"],
        ),
        # Expiry before priority.
        ([grant("p0", "1.00", priority=0), grant("june", "1.00", expires=JUNE)], ["june", "p0"]),
        # Then the oldest effective.
        (
            [grant("feb", "1.00", effective=FEB), grant("jan", "1.00", effective=JAN)],
            ["jan", "feb"],
        ),
        # Then the id.
        ([grant("b", "1.00"), grant("a", "1.00")], ["a", "b"]),
    ],
)
def test_credits_are_drawn_in_the_documented_order(
    grants: list[CreditGrant], order: list[str]
) -> None:
    assert [g.id for g in sorted(grants, key=credit_order)] == order
    result = run(lines("1.50"), grants=grants)

    assert [(c.grant_id, str(c.drawn)) for c in result.credits] == [
        (order[0], "1.00"),
        (order[1], "0.50"),
    ]


@pytest.mark.parametrize(
    ("effective", "expires", "drawn"),
    [
        (JAN, MAY, False),  # expires exactly at the issue instant: expired (half-open)
        (JAN, MAY + timedelta(microseconds=1), True),
        (MAY, None, True),  # effective exactly at the issue instant: usable
        (MAY + timedelta(microseconds=1), None, False),
    ],
)
def test_a_grant_is_usable_from_its_effective_instant_until_its_expiry(
    effective: datetime, expires: datetime | None, drawn: bool
) -> None:
    result = run(lines("10.00"), grants=[grant("g", "5.00", effective, expires)])

    assert [c.grant_id for c in result.credits] == (["g"] if drawn else [])
    assert str(result.amount_due) == ("5.00" if drawn else "10.00")


def test_a_grant_in_another_currency_is_refused_even_when_unused() -> None:
    expired = grant("eur", "5.00", JAN, FEB, currency="EUR")
    with pytest.raises(ValueError, match="credit grant 'eur' is in EUR, the invoice in USD"):
        run(lines("10.00"), grants=[expired])


def test_a_grant_with_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetimes"):
        run(lines("10.00"), grants=[grant("g", "5.00", datetime(2025, 1, 1))])


def test_an_empty_or_unneeded_grant_draws_nothing() -> None:
    result = run(
        lines("1.00"), grants=[grant("empty", "0.00"), grant("a", "5.00"), grant("b", "5.00")]
    )

    assert [(c.grant_id, str(c.drawn), str(c.balance_after)) for c in result.credits] == [
        ("a", "1.00", "4.00")
    ]
