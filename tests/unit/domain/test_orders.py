from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.orders import (
    Order,
    OrderLine,
    ReferenceView,
    RejectionCode,
    billing_periods_per_term,
    find_price,
    order_commitment,
    resale_unit_price,
    validate_order,
)
from hub.domain.pricing import markup_price
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.errors import ValidationFailed

ITEM = "CFQ7TTC0LH18:0001:CFQ7TTC0LH0R"


def reseller(reseller_id="r1", currency="EUR", markup_bps=1000):
    return ResellerProfile(
        reseller_id=reseller_id,
        partner_id="1234567",
        name="Contoso IT",
        country="DE",
        currency=currency,
        languages=("de",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=1_000_000,
        payment_terms_days=30,
        markup_bps=markup_bps,
    )


def customer(customer_id="c1", reseller_id="r1", country="DE", currency="EUR"):
    return Customer(
        customer_id=customer_id,
        reseller_id=reseller_id,
        name="Fabrikam GmbH",
        country=country,
        language="de",
        currency=currency,
    )


ITEM_MODEL = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0LH0R",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("DE", "AT"),
    min_quantity=1,
    max_quantity=300,
)


def price(term=Term.P1Y, cycle=BillingCycle.MONTHLY, currency="EUR", cost=500, **kw):
    return PriceListEntry(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0LH0R",
        term=term,
        billing_cycle=cycle,
        currency=currency,
        unit_cost_minor=cost,
        effective_from=kw.pop("effective_from", date(2025, 1, 1)),
        **kw,
    )


def ref(**overrides):
    base = {
        "resellers": {"r1": reseller(), "r2": reseller("r2")},
        "customers": {"c1": customer(), "c9": customer("c9", reseller_id="r2")},
        "catalogue": {ITEM: ITEM_MODEL},
        "prices": {ITEM: [price(), price(Term.P1M, BillingCycle.MONTHLY, cost=600)]},
    }
    base.update(overrides)
    return ReferenceView(**base)


def line(quantity=10, term=Term.P1Y, cycle=BillingCycle.MONTHLY, sku="0001"):
    return OrderLine(
        product_id="CFQ7TTC0LH18",
        sku_id=sku,
        availability_id="CFQ7TTC0LH0R",
        quantity=quantity,
        term=term,
        billing_cycle=cycle,
    )


def order(*lines, reseller_id="r1", customer_id="c1", at=datetime(2025, 6, 1, 9, tzinfo=UTC)):
    return Order(
        order_id="o-1",
        reseller_id=reseller_id,
        customer_id=customer_id,
        lines=lines or (line(),),
        requested_at=at,
    )


def codes(rejections):
    return [r.code for r in rejections]


def test_a_valid_order_has_no_rejections():
    assert validate_order(order(), ref()) == []


def test_an_order_without_lines_is_rejected():
    empty = Order(
        order_id="o", reseller_id="r1", customer_id="c1", lines=(), requested_at=datetime.now(UTC)
    )
    assert codes(validate_order(empty, ref())) == [RejectionCode.EMPTY_ORDER]


def test_unknown_reseller_is_rejected_naming_the_field_and_value():
    [rejection, *_] = validate_order(order(reseller_id="nobody"), ref())
    assert rejection.code == RejectionCode.UNKNOWN_RESELLER
    assert (rejection.field, rejection.value) == ("reseller_id", "nobody")
    assert "nobody" in rejection.message


def test_unknown_customer_is_rejected():
    rejections = validate_order(order(customer_id="ghost"), ref())
    assert codes(rejections) == [RejectionCode.CUSTOMER_NOT_FOUND]
    assert rejections[0].field == "customer_id"


def test_customer_of_another_reseller_is_rejected():
    assert codes(validate_order(order(customer_id="c9"), ref())) == [
        RejectionCode.CUSTOMER_NOT_FOUND
    ]


def test_foreign_customer_is_indistinguishable_from_a_missing_one():
    # A reseller must not learn which customer ids another reseller holds.
    foreign = validate_order(order(customer_id="c9"), ref())
    missing = validate_order(order(customer_id="c9"), ref(customers={"c1": customer()}))
    assert foreign == missing


def test_customer_in_another_currency_than_the_reseller_is_rejected():
    rejections = validate_order(order(), ref(customers={"c1": customer(currency="CHF")}))
    assert RejectionCode.CURRENCY_MISMATCH in codes(rejections)


def test_unknown_catalogue_item_is_rejected_with_the_line_field():
    rejections = validate_order(order(line(sku="9999")), ref())
    assert codes(rejections) == [RejectionCode.UNKNOWN_CATALOG_ITEM]
    assert rejections[0].field == "lines[0].catalog_item_id"
    assert rejections[0].value == "CFQ7TTC0LH18:9999:CFQ7TTC0LH0R"


def test_item_not_sold_in_the_customers_country_is_rejected():
    rejections = validate_order(order(), ref(customers={"c1": customer(country="FR")}))
    assert codes(rejections) == [RejectionCode.NOT_SOLD_IN_MARKET]
    assert "FR" in rejections[0].message


def test_item_without_a_price_in_the_customers_currency_is_rejected():
    usd = {"r1": reseller(currency="USD")}
    rejections = validate_order(
        order(), ref(resellers=usd, customers={"c1": customer(currency="USD")})
    )
    assert codes(rejections) == [RejectionCode.NO_PRICE]


def test_item_without_a_price_for_the_term_and_billing_cycle_is_rejected():
    assert codes(validate_order(order(line(cycle=BillingCycle.ANNUAL)), ref())) == [
        RejectionCode.NO_PRICE
    ]


def test_price_not_yet_effective_on_the_order_date_is_not_used():
    future = {ITEM: [price(effective_from=date(2025, 6, 2))]}
    assert codes(validate_order(order(), ref(prices=future))) == [RejectionCode.NO_PRICE]


def test_price_is_effective_through_its_last_day_inclusive():
    ended = {ITEM: [price(effective_to=date(2025, 6, 1))]}
    assert validate_order(order(), ref(prices=ended)) == []
    late = order(at=datetime(2025, 6, 2, tzinfo=UTC))
    assert codes(validate_order(late, ref(prices=ended))) == [RejectionCode.NO_PRICE]


def test_order_date_is_the_utc_day_of_a_request_made_in_another_zone():
    # 00:30 on 2 June in UTC+2 is still 1 June in UTC, the last day of this price.
    ended = {ITEM: [price(effective_to=date(2025, 6, 1))]}
    east = datetime(2025, 6, 2, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert validate_order(order(at=east), ref(prices=ended)) == []


def test_quantity_below_the_minimum_is_rejected():
    rejections = validate_order(order(line(quantity=0)), ref())
    assert codes(rejections) == [RejectionCode.QUANTITY_BELOW_MINIMUM]
    assert (rejections[0].field, rejections[0].value) == ("lines[0].quantity", "0")


def test_quantity_above_the_maximum_is_rejected():
    assert codes(validate_order(order(line(quantity=301)), ref())) == [
        RejectionCode.QUANTITY_ABOVE_MAXIMUM
    ]


def test_quantity_at_the_catalogue_bounds_is_accepted():
    assert validate_order(order(line(quantity=1)), ref()) == []
    assert validate_order(order(line(quantity=300)), ref()) == []


@pytest.mark.parametrize(
    ("term", "cycle"),
    [
        (Term.P1M, BillingCycle.ANNUAL),
        (Term.P1M, BillingCycle.TRIENNIAL),
        (Term.P1Y, BillingCycle.TRIENNIAL),
    ],
)
def test_billing_cycle_longer_than_the_term_is_rejected(term, cycle):
    rejections = validate_order(order(line(term=term, cycle=cycle)), ref())
    assert codes(rejections) == [RejectionCode.TERM_BILLING_CYCLE_NOT_ALLOWED]
    assert rejections[0].field == "lines[0].billing_cycle"


@pytest.mark.parametrize(
    ("term", "cycle"),
    [
        (Term.P1M, BillingCycle.MONTHLY),
        (Term.P1Y, BillingCycle.MONTHLY),
        (Term.P1Y, BillingCycle.ANNUAL),
        (Term.P3Y, BillingCycle.MONTHLY),
        (Term.P3Y, BillingCycle.ANNUAL),
        (Term.P3Y, BillingCycle.TRIENNIAL),
    ],
)
def test_allowed_term_and_billing_cycle_combinations_are_accepted(term, cycle):
    prices = {ITEM: [price(term, cycle)]}
    assert validate_order(order(line(term=term, cycle=cycle)), ref(prices=prices)) == []


def test_duplicate_line_is_rejected_pointing_at_the_first():
    rejections = validate_order(order(line(), line(quantity=5)), ref())
    assert codes(rejections) == [RejectionCode.DUPLICATE_LINE]
    assert rejections[0].field == "lines[1]"
    assert "lines[0]" in rejections[0].message


def test_same_item_on_another_term_is_not_a_duplicate():
    lines = (line(), line(term=Term.P1M))
    assert validate_order(order(*lines), ref()) == []


def test_every_broken_rule_is_reported_at_once():
    bad = order(line(quantity=0), line(sku="x"), reseller_id="nobody", customer_id="ghost")
    assert codes(validate_order(bad, ref())) == [
        RejectionCode.UNKNOWN_RESELLER,
        RejectionCode.CUSTOMER_NOT_FOUND,
        RejectionCode.QUANTITY_BELOW_MINIMUM,
        RejectionCode.UNKNOWN_CATALOG_ITEM,
    ]


def test_find_price_prefers_the_most_recent_overlapping_entry():
    old, new = price(cost=500), price(cost=550, effective_from=date(2025, 5, 1))
    found = find_price(
        {ITEM: [new, old]}, ITEM, Term.P1Y, BillingCycle.MONTHLY, "EUR", date(2025, 6, 1)
    )
    assert found == new


@pytest.mark.parametrize(
    ("cost", "bps", "expected"),
    [
        (1000, 1250, 1125),
        (999, 1250, 1124),  # 1123.875 -> 1124
        (2, 2500, 3),  # 2.5 rounds half up
        (6, 2500, 8),  # 7.5 rounds half up, not to even
        (1000, 0, 1000),
        (1000, -10_000, 0),
        (1000, -500, 950),
    ],
)
def test_resale_unit_price_adds_markup_rounding_half_up(cost, bps, expected):
    assert resale_unit_price(cost, bps) == expected


def test_resale_unit_price_refuses_negative_cost_and_below_minus_100_percent():
    with pytest.raises(ValueError, match="cost"):
        resale_unit_price(-1, 0)
    with pytest.raises(ValueError, match="markup"):
        resale_unit_price(1, -10_001)


@given(st.integers(0, 10**18), st.integers(-10_000, 100_000))
def test_resale_unit_price_is_within_half_a_unit_of_the_exact_price(cost, bps):
    price_minor = resale_unit_price(cost, bps)
    exact_times_10k = cost * (10_000 + bps)
    assert -5_000 < price_minor * 10_000 - exact_times_10k <= 5_000


@pytest.mark.parametrize(
    ("term", "cycle", "periods"),
    [
        (Term.P1M, BillingCycle.MONTHLY, 1),
        (Term.P1Y, BillingCycle.MONTHLY, 12),
        (Term.P1Y, BillingCycle.ANNUAL, 1),
        (Term.P3Y, BillingCycle.MONTHLY, 36),
        (Term.P3Y, BillingCycle.ANNUAL, 3),
        (Term.P3Y, BillingCycle.TRIENNIAL, 1),
    ],
)
def test_billing_periods_per_term(term, cycle, periods):
    assert billing_periods_per_term(term, cycle) == periods


def test_commitment_is_the_whole_term_at_the_resellers_marked_up_price():
    # P1Y billed monthly: 500 cost + 10% = 550 per seat per month, 10 seats, 12 months.
    assert order_commitment(order(), ref().prices, reseller()) == 550 * 10 * 12


def test_commitment_sums_lines_and_uses_a_fixed_resale_price_when_listed():
    prices = {
        ITEM: [price(), price(Term.P1M, BillingCycle.MONTHLY, cost=600, unit_price_minor=700)]
    }
    two = order(line(quantity=10), line(quantity=3, term=Term.P1M))
    assert order_commitment(two, prices, reseller()) == 550 * 10 * 12 + 700 * 3


def test_commitment_without_a_price_raises_validation_failed():
    with pytest.raises(ValidationFailed, match="no EUR price"):
        order_commitment(order(line(cycle=BillingCycle.ANNUAL)), ref().prices, reseller())


@given(st.integers(0, 10**12), st.integers(-10_000, 100_000))
def test_credit_check_prices_seats_exactly_as_billing_does(cost, bps):
    # The commitment held against the credit limit must equal what is later invoiced.
    assert resale_unit_price(cost, bps) == markup_price(cost, bps)
