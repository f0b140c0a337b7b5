"""Invalid events are refused with the field path, the value and the rule a developer can fix."""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import ValidationFailed
from hub.schemas.events import billing, credits, orders, reference, subscriptions, support
from hub.schemas.validation import ContractViolation, validate
from tests.support.samples import sample


def _data(name: str, **changes: Any) -> dict[str, Any]:
    return {**sample(name).model_dump(), **changes}


def _line(**changes: Any) -> dict[str, Any]:
    data = sample("OrderRequested").model_dump()
    data["lines"] = [{**data["lines"][0], **changes}]
    return data


def test_wrong_type_names_the_field_and_value() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(orders.OrderRequested, _line(quantity="three"))
    assert caught.value.field == "lines[0].quantity"
    assert caught.value.value == "three"
    assert "valid integer" in str(caught.value)


def test_negative_quantity_is_rejected_with_the_rule() -> None:
    with pytest.raises(
        ValidationFailed, match=r"lines\[0\]\.quantity=-1: .*greater than or equal to 1"
    ):
        validate(orders.OrderRequested, _line(quantity=-1))


def test_unknown_term_lists_the_allowed_spellings() -> None:
    with pytest.raises(ValidationFailed, match=r"lines\[0\]\.term='P2Y': .*'P1M', 'P1Y' or 'P3Y'"):
        validate(orders.OrderRequested, _line(term="P2Y"))


def test_billing_cycle_must_use_partner_center_spelling() -> None:
    with pytest.raises(ValidationFailed, match=r"billing_cycle='Monthly'"):
        validate(orders.OrderRequested, _line(billing_cycle="Monthly"))


def test_bad_currency_is_rejected_with_the_known_list() -> None:
    with pytest.raises(ValidationFailed, match=r"currency='EURO': unknown ISO 4217 currency"):
        validate(billing.PaymentReceived, _data("PaymentReceived", currency="EURO"))


def test_every_problem_is_reported_not_only_the_first() -> None:
    data = _data("PaymentReceived", currency="XXX", amount_minor=0, method="cash")
    with pytest.raises(ContractViolation) as caught:
        validate(billing.PaymentReceived, data)
    fields = [path for path, _, _ in caught.value.problems]
    assert fields == ["amount_minor", "currency", "method"]
    assert str(caught.value).startswith("PaymentReceived is invalid: ")


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="quantityy=5: Extra inputs are not permitted"):
        validate(orders.OrderRequested, _data("OrderRequested", quantityy=5))


def test_order_without_lines_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match=r"lines=\(\): Tuple should have at least 1 item"):
        validate(orders.OrderRequested, _data("OrderRequested", lines=()))


def test_customer_of_another_reseller_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="a customer belongs to exactly one reseller"):
        validate(reference.CustomerUpserted, _data("CustomerUpserted", reseller_id="fabrikam-it"))


def test_held_order_exposure_must_add_up() -> None:
    with pytest.raises(ValidationFailed, match="exposure_minor 1 must equal"):
        validate(orders.OrderHeld, _data("OrderHeld", exposure_minor=1))


def test_change_quantity_needs_a_new_quantity() -> None:
    data = _data("SubscriptionChangeRequested", new_quantity=None)
    with pytest.raises(ValidationFailed, match="new_quantity is required"):
        validate(subscriptions.SubscriptionChangeRequested, data)


def test_unknown_change_kind_is_rejected() -> None:
    data = _data("SubscriptionChangeRequested", kind="downgrade")
    with pytest.raises(ValidationFailed, match="kind='downgrade'"):
        validate(subscriptions.SubscriptionChangeRequested, data)


def test_reconciliation_minor_units_must_match_microsofts_text() -> None:
    data = _data("ReconciliationLineReceived", total_minor=14_001)
    with pytest.raises(ValidationFailed, match=r"total_minor 14001 does not match total '140.00'"):
        validate(billing.ReconciliationLineReceived, data)


def test_reconciliation_amount_that_is_not_a_decimal_is_rejected() -> None:
    data = _data("ReconciliationLineReceived", unit_price="5,60")
    with pytest.raises(ValidationFailed, match="unit_price='5,60': must be a decimal number"):
        validate(billing.ReconciliationLineReceived, data)


def test_invoice_total_must_equal_subtotal_plus_tax() -> None:
    with pytest.raises(ValidationFailed, match="total_minor 1 != subtotal"):
        validate(billing.InvoiceIssued, _data("InvoiceIssued", total_minor=1))


def test_white_label_invoice_needs_the_brand() -> None:
    with pytest.raises(ValidationFailed, match="white-label document needs the reseller's brand"):
        validate(billing.InvoiceIssued, _data("InvoiceIssued", brand=None))


def test_unknown_severity_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="severity='A'"):
        validate(support.TicketOpened, _data("TicketOpened", severity="A"))


def test_distributor_desk_routing_carries_the_brand() -> None:
    with pytest.raises(ValidationFailed, match="carries the reseller's brand"):
        validate(support.TicketRouted, _data("TicketRouted", brand=None))


def test_service_credit_customer_amounts_must_sum_to_the_approved_amount() -> None:
    data = _data("ServiceCreditApproved", amount_minor=10_001)
    with pytest.raises(ValidationFailed, match="sum to 10000, not amount_minor 10001"):
        validate(credits.ServiceCreditApproved, data)


def test_service_credit_needs_an_amount_or_a_tier() -> None:
    data = _data("ServiceCreditApproved", amount_minor=None, percentage_tier=None)
    with pytest.raises(ValidationFailed, match="give amount_minor or percentage_tier"):
        validate(credits.ServiceCreditApproved, data)


def test_event_id_must_be_a_uuid() -> None:
    with pytest.raises(ValidationFailed, match="event_id='order-1'"):
        validate(orders.OrderRequested, _data("OrderRequested", event_id="order-1"))
