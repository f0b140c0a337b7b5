from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.ingress import (
    Claim,
    DateKind,
    Limits,
    QuantityClaim,
    Refusal,
    Rules,
    Writer,
    admit,
)
from hub.topics import INGRESS, Topic, hub_documents, reseller_events

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ORDERS = Rules(reseller_events(Topic.ORDERS), hub_documents())
PAYMENTS = Rules(reseller_events(Topic.PAYMENTS), hub_documents())


def claim(**changes):
    base = {"event_type": "OrderRequested", "reseller_id": "A", "event_time": NOW}
    return Claim(**{**base, **changes})


def code(result):
    return None if result is None else result.code


def test_an_order_of_the_writer_itself_is_admitted():
    assert admit(claim(), Writer("A"), ORDERS, NOW) is None


def test_hub_documents_are_never_admitted_on_any_ingress_topic():
    for topic in INGRESS:
        rules = Rules(reseller_events(topic), hub_documents())
        for kind in ("InvoiceIssued", "CreditNoteIssued", "DunningStageReached", "OrderAccepted"):
            result = admit(claim(event_type=kind), Writer("A"), rules, NOW)
            assert code(result) is Refusal.HUB_DOCUMENT, (topic, kind)


def test_the_catalogue_lists_what_resellers_may_write_and_no_hub_document():
    assert reseller_events(Topic.PAYMENTS) == {"PaymentReceived"}
    assert reseller_events(Topic.TICKETS) == {"TicketOpened", "TicketUpdated"}
    assert reseller_events(Topic.INVOICES) == frozenset()
    for topic in INGRESS:
        assert not reseller_events(topic) & hub_documents()
    assert {"InvoiceIssued", "CreditNoteIssued", "ServiceCreditAllocated"} <= hub_documents()
    assert {"PaymentConfirmed", "DunningStageReached", "OrderAccepted"} <= hub_documents()


def test_another_reseller_event_type_on_a_topic_is_refused():
    result = admit(claim(event_type="TicketOpened"), Writer("A"), ORDERS, NOW)
    assert code(result) is Refusal.NOT_ALLOWED_HERE
    assert "OrderRequested" in result.message


def test_without_authentication_the_body_must_repeat_the_key():
    result = admit(claim(reseller_id="B"), Writer("A"), ORDERS, NOW)
    assert code(result) is Refusal.IDENTITY_MISMATCH
    assert result.field == "reseller_id"
    assert result.value == "B"


def test_without_authentication_a_message_without_key_is_refused():
    assert code(admit(claim(), Writer(None), ORDERS, NOW)) is Refusal.NO_WRITER
    assert code(admit(claim(), Writer(""), ORDERS, NOW)) is Refusal.NO_WRITER


def test_with_authentication_key_and_body_must_name_the_authenticated_writer():
    a = Writer("A", header="A", authenticating=True)
    assert admit(claim(), a, ORDERS, NOW) is None
    forged_both = Writer("B", header="A", authenticating=True)
    assert code(admit(claim(reseller_id="B"), forged_both, ORDERS, NOW)) is (
        Refusal.IDENTITY_MISMATCH
    )
    assert code(admit(claim(), forged_both, ORDERS, NOW)) is Refusal.IDENTITY_MISMATCH


def test_without_authentication_an_identity_header_is_one_more_claim_that_must_agree():
    forged = Writer("A", header="B")
    assert code(admit(claim(), forged, ORDERS, NOW)) is Refusal.IDENTITY_MISMATCH
    assert admit(claim(), Writer("A", header="A"), ORDERS, NOW) is None


def test_with_authentication_a_record_nobody_authenticated_is_refused():
    writer = Writer("A", header=None, authenticating=True)
    assert code(admit(claim(), writer, ORDERS, NOW)) is Refusal.NO_WRITER
    assert writer.reseller_id is None


def test_event_time_outside_the_window_is_refused():
    for when in (
        NOW + timedelta(minutes=6),
        NOW - timedelta(days=8),
        datetime(9999, 1, 1, tzinfo=UTC),
    ):
        result = admit(claim(event_time=when), Writer("A"), ORDERS, NOW)
        assert code(result) is Refusal.EVENT_TIME, when
    assert admit(claim(event_time=NOW + timedelta(minutes=4)), Writer("A"), ORDERS, NOW) is None


def test_a_request_dated_in_year_9999_is_refused_with_its_field():
    dates = [("requested_at", datetime(9999, 12, 31, tzinfo=UTC), DateKind.REQUEST)]
    result = admit(claim(dates=dates), Writer("A"), ORDERS, NOW)
    assert code(result) is Refusal.DATE
    assert result.field == "requested_at"


def test_a_payment_may_have_arrived_months_ago_but_not_tomorrow():
    pay = claim(event_type="PaymentReceived")
    months_ago = [("received_at", NOW - timedelta(days=90), DateKind.PAYMENT)]
    tomorrow = [("received_at", NOW + timedelta(days=1), DateKind.PAYMENT)]
    assert admit(Claim(**{**pay.__dict__, "dates": months_ago}), Writer("A"), PAYMENTS, NOW) is None
    refused = admit(Claim(**{**pay.__dict__, "dates": tomorrow}), Writer("A"), PAYMENTS, NOW)
    assert code(refused) is Refusal.DATE


def test_amounts_must_be_positive_and_bounded():
    pay = {"event_type": "PaymentReceived"}
    for amount in (0, -1, 10**12 + 1, 2**63 - 1):
        result = admit(claim(**pay, amounts=[("amount_minor", amount)]), Writer("A"), PAYMENTS, NOW)
        assert code(result) is Refusal.AMOUNT, amount
    assert admit(claim(**pay, amounts=[("amount_minor", 1)]), Writer("A"), PAYMENTS, NOW) is None


def test_quantities_follow_the_catalogue_item_else_an_absolute_bound():
    rules = Rules(
        reseller_events(Topic.ORDERS),
        hub_documents(),
        quantity_range=lambda item: (1, 300) if item == "known" else None,
    )
    over = claim(quantities=[QuantityClaim("lines[0].quantity", 301, "known")])
    assert code(admit(over, Writer("A"), rules, NOW)) is Refusal.QUANTITY
    unknown = claim(quantities=[QuantityClaim("lines[0].quantity", 301, "other")])
    assert admit(unknown, Writer("A"), rules, NOW) is None
    huge = claim(quantities=[QuantityClaim("lines[0].quantity", 100_001, "other")])
    assert code(admit(huge, Writer("A"), rules, NOW)) is Refusal.QUANTITY


ids = st.sampled_from(["A", "B", "A-B", "", None])
event_types = st.sampled_from(
    ["OrderRequested", "PaymentReceived", "InvoiceIssued", "CreditNoteIssued", "Nonsense"]
)


@settings(max_examples=300, deadline=None)
@given(
    event_type=event_types,
    body=ids,
    key=ids,
    header=ids,
    authenticating=st.booleans(),
    offset_s=st.integers(min_value=-(10**10), max_value=10**10),
    amount=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
def test_whatever_a_record_says_an_admitted_one_is_of_its_writer_and_plausible(
    event_type, body, key, header, authenticating, offset_s, amount
):
    limits = Limits()
    try:
        when = NOW + timedelta(seconds=offset_s)
    except OverflowError:
        return
    record = claim(
        event_type=event_type, reseller_id=body, event_time=when, amounts=[("amount_minor", amount)]
    )
    writer = Writer(key, header=header, authenticating=authenticating)
    result = admit(record, writer, PAYMENTS, NOW)
    if result is None:
        assert event_type == "PaymentReceived"
        assert writer.reseller_id
        assert body == writer.reseller_id == key
        assert header == key if authenticating else header in (None, key)
        assert NOW - limits.event_time_past <= when <= NOW + limits.clock_skew
        assert 0 < amount <= limits.max_amount_minor
    else:
        assert result.message
        assert result.field


def test_a_reseller_writes_a_ticket_update_as_itself_or_its_customer_never_as_the_desk():
    tickets = Rules(reseller_events(Topic.TICKETS), hub_documents())
    update = {"event_type": "TicketUpdated"}
    for author in ("customer", "reseller"):
        assert admit(claim(**update, author=author), Writer("A"), tickets, NOW) is None
    for author in ("distributor", "microsoft"):
        result = admit(claim(**update, author=author), Writer("A"), tickets, NOW)
        assert code(result) is Refusal.AUTHOR
