"""One representative, valid instance of every event contract (test helper, not a test)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from hub.domain.enums import (
    BillingCycle,
    BillingMode,
    ChargeType,
    ProductKind,
    Severity,
    SubscriptionStatus,
    SupportMode,
    Term,
    TicketCategory,
)
from hub.domain.reference import Brand, CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.schemas.envelope import Event, derived_event_id
from hub.schemas.events import ALL_EVENTS
from hub.schemas.events import billing as b
from hub.schemas.events import credits as c
from hub.schemas.events import ingress as i
from hub.schemas.events import orders as o
from hub.schemas.events import reference as r
from hub.schemas.events import subscriptions as s
from hub.schemas.events import support as t
from hub.schemas.events import webhooks as w
from tests.support.samples_consumption import BUILDERS as CONSUMPTION_BUILDERS
from tests.support.samples_incentives import BUILDERS as INCENTIVE_BUILDERS
from tests.support.samples_relationships import BUILDERS as RELATIONSHIP_BUILDERS
from tests.support.samples_renewals import BUILDERS as RENEWAL_BUILDERS

T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
CAUSE = UUID("0b7e4f5c-1d2a-4e3b-9c8d-7a6b5c4d3e2f")
BRAND = Brand(display_name="Contoso IT", signature="Your Contoso team", reply_to="help@contoso.de")
LINE = o.OrderLine(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0LDPB",
    quantity=25,
    term=Term.P1Y,
    billing_cycle=BillingCycle.MONTHLY,
)
ISSUER = b.Party(party_id="dist-1", name="Distributor GmbH", country="DE", tax_id="DE123456789")
RECIPIENT = b.Party(party_id="contoso", name="Contoso IT GmbH", country="DE")


def envelope(kind: str, reseller: str | None = "contoso") -> dict[str, Any]:
    return {
        "event_id": derived_event_id(CAUSE, kind),
        "event_time": T0,
        "correlation_id": "order-4711",
        "causation_id": CAUSE,
        "reseller_id": reseller,
    }


def _reseller() -> Event:
    profile = ResellerProfile(
        reseller_id="contoso",
        partner_id="1234567",
        name="Contoso IT GmbH",
        country="DE",
        currency="EUR",
        languages=("de", "en"),
        billing_mode=BillingMode.DISTRIBUTOR_WHITE_LABEL,
        support_mode=SupportMode.DISTRIBUTOR_WHITE_LABEL,
        credit_limit_minor=5_000_000,
        payment_terms_days=30,
        markup_bps=1500,
        brand=BRAND,
    )
    return r.ResellerUpserted(**envelope("reseller"), reseller=profile)


def _customer() -> Event:
    customer = Customer(
        customer_id="a1b2c3d4-tenant",
        reseller_id="contoso",
        name="Fabrikam AG",
        country="DE",
        region="eu-west",
        language="de",
        currency="EUR",
        tenant_domain="fabrikam.onmicrosoft.com",
    )
    return r.CustomerUpserted(**envelope("customer"), customer=customer)


def _catalog_item() -> Event:
    item = CatalogItem(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0LDPB",
        name="Microsoft 365 Business Basic",
        service="exchange",
        markets=("DE", "AT", "CH"),
    )
    return r.CatalogItemUpserted(**envelope("item", None), item=item)


def _price() -> Event:
    entry = PriceListEntry(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0LDPB",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        unit_cost_minor=560,
        effective_from=date(2025, 1, 1),
    )
    return r.PriceListEntryUpserted(**envelope("price", None), price_list_id="ms-eur", entry=entry)


def _order_ids() -> dict[str, Any]:
    return {"order_id": "PO-4711", "customer_id": "a1b2c3d4-tenant"}


def _subscription_ids() -> dict[str, Any]:
    return {"change_id": "chg-1", "customer_id": "a1b2c3d4-tenant", "subscription_id": "sub-9"}


def _document() -> dict[str, Any]:
    line = b.InvoiceLine(
        line_id="l1",
        description="Microsoft 365 Business Basic, 25 seats, March 2025",
        customer_id="a1b2c3d4-tenant",
        subscription_id="sub-9",
        charge_type=ChargeType.CYCLE_CHARGE,
        product_kind=ProductKind.SUBSCRIPTION,
        quantity=25,
        unit_price_minor=644,
        amount_minor=16_100,
        tax_rate_bps=1900,
        period_start=date(2025, 3, 1),
        period_end=date(2025, 3, 31),
    )
    tax = b.TaxAmount(rate_bps=1900, taxable_minor=16_100, tax_minor=3_059, label="MwSt 19%")
    return {
        "number": "WL-2025-0001",
        "issuer": ISSUER,
        "recipient": RECIPIENT,
        "issued_on": date(2025, 4, 1),
        "currency": "EUR",
        "billing_mode": BillingMode.DISTRIBUTOR_WHITE_LABEL,
        "brand": BRAND,
        "lines": (line,),
        "taxes": (tax,),
        "subtotal_minor": 16_100,
        "tax_minor": 3_059,
        "total_minor": 19_159,
    }


BUILDERS: dict[str, Callable[[], Event]] = {
    "ResellerUpserted": _reseller,
    "CustomerUpserted": _customer,
    "CatalogItemUpserted": _catalog_item,
    "PriceListEntryUpserted": _price,
    "OrderRequested": lambda: o.OrderRequested(
        **envelope("req"), **_order_ids(), lines=(LINE,), requested_at=T0
    ),
    "OrderAccepted": lambda: o.OrderAccepted(
        **envelope("acc"), **_order_ids(), lines=(LINE,), commitment_minor=168_000, currency="EUR"
    ),
    "OrderHeld": lambda: o.OrderHeld(
        **envelope("held"),
        **_order_ids(),
        reason_code="over_credit_limit",
        message="exposure 5,100.00 EUR exceeds the credit limit 5,000.00 EUR",
        credit_limit_minor=500_000,
        open_receivables_minor=342_000,
        order_commitment_minor=168_000,
        exposure_minor=510_000,
        currency="EUR",
    ),
    "OrderRejected": lambda: o.OrderRejected(
        **envelope("rej"),
        **_order_ids(),
        reasons=(
            o.RejectionReason(
                code="unknown_product",
                field="lines[0].product_id",
                value="NOPE",
                message="product NOPE is not in the catalogue for DE",
            ),
        ),
    ),
    "SubscriptionProvisioned": lambda: o.SubscriptionProvisioned(
        **envelope("prov"),
        **_order_ids(),
        line_index=0,
        subscription_id="sub-9",
        microsoft_order_id="ms-order-1",
        product_id=LINE.product_id,
        sku_id=LINE.sku_id,
        availability_id=LINE.availability_id,
        quantity=25,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=date(2025, 3, 14),
        term_end=date(2026, 3, 13),
        unit_cost_minor=560,
        unit_price_minor=644,
        currency="EUR",
    ),
    "OrderReviewDecided": lambda: o.OrderReviewDecided(
        **envelope("review"),
        order_id="PO-2025-0042",
        decision="release",
        reviewer="finance.jane",
        reason="customer paid by wire, limit raise pending",
        decided_at=T0,
    ),
    "ProvisioningFailed": lambda: o.ProvisioningFailed(
        **envelope("fail"),
        **_order_ids(),
        line_index=0,
        retriable=False,
        attempts=1,
        code="10002",
        message="QuotaNotAvailable",
    ),
    "SubscriptionChangeRequested": lambda: s.SubscriptionChangeRequested(
        **envelope("chg"),
        **_subscription_ids(),
        kind="change_quantity",
        new_quantity=20,
        requested_at=T0,
    ),
    "SubscriptionChanged": lambda: s.SubscriptionChanged(
        **envelope("chgd"),
        **_subscription_ids(),
        kind="change_quantity",
        effective_at=T0,
        old_quantity=25,
        new_quantity=20,
        status=SubscriptionStatus.ACTIVE,
        auto_renew=True,
        refund_minor=3_152,
        currency="EUR",
    ),
    "SubscriptionChangeRejected": lambda: s.SubscriptionChangeRejected(
        **envelope("chgr"),
        **_subscription_ids(),
        kind="cancel",
        code="cancellation_window_passed",
        message="cancel is possible until 2025-03-21; today is 2025-03-28",
    ),
    "ReconciliationLineReceived": lambda: b.ReconciliationLineReceived(
        **envelope("recon"),
        source_id="G000123456",
        line_number=7,
        partner_id="dist-tenant",
        customer_id="a1b2c3d4-tenant",
        customer_name="Fabrikam AG",
        customer_country="DE",
        invoice_number="G000123456",
        reseller_mpn_id="1234567",
        order_id="ms-order-1",
        order_date=date(2025, 3, 14),
        subscription_id="sub-9",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0LDPB",
        charge_type=ChargeType.CYCLE_CHARGE,
        unit_price="5.6",
        effective_unit_price="5.6",
        quantity=25,
        billable_quantity="25",
        subtotal="140.00",
        tax_total="0",
        total="140.00",
        currency="EUR",
        pricing_currency="USD",
        pc_to_bc_exchange_rate="0.92",
        charge_start_date=date(2025, 3, 14),
        charge_end_date=date(2025, 4, 13),
        term_and_billing_cycle="One-Year commitment for monthly billing",
        billing_frequency="Monthly",
        subtotal_minor=14_000,
        tax_total_minor=0,
        total_minor=14_000,
    ),
    "ChargeRated": lambda: b.ChargeRated(
        **envelope("rated"),
        charge_id="chg-sub-9-2025-03",
        customer_id="a1b2c3d4-tenant",
        subscription_id="sub-9",
        charge_type=ChargeType.CYCLE_CHARGE,
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        product_kind=ProductKind.SUBSCRIPTION,
        billing_cycle=BillingCycle.MONTHLY,
        quantity=25,
        period_start=date(2025, 3, 14),
        period_end=date(2025, 4, 13),
        cost_minor=14_000,
        price_minor=16_100,
        currency="EUR",
    ),
    "InvoiceIssued": lambda: b.InvoiceIssued(
        **envelope("inv"), **_document(), invoice_id="inv-1", due_date=date(2025, 5, 1)
    ),
    "CreditNoteIssued": lambda: b.CreditNoteIssued(
        **envelope("cn"),
        **_document(),
        credit_note_id="cn-1",
        invoice_id="inv-1",
        reason="service credit EX25194",
    ),
    "PaymentReceived": lambda: b.PaymentReceived(
        **envelope("pay"),
        payment_id="pay-1",
        amount_minor=19_159,
        currency="EUR",
        received_at=T0,
        method="bank_transfer",
        reference="WL-2025-0001",
        invoice_ids=("inv-1",),
    ),
    "PaymentAdviceRecorded": lambda: i.PaymentAdviceRecorded(
        **envelope("advice"),
        payment_id="pay-1",
        amount_minor=19_159,
        currency="EUR",
        received_at=T0,
        reference="WL-2025-0001",
        invoice_ids=("inv-1",),
    ),
    "PaymentConfirmed": lambda: i.PaymentConfirmed(
        **envelope("confirmed"),
        payment_id="pay-1",
        amount_minor=19_159,
        currency="EUR",
        received_at=T0,
        method="bank_transfer",
        reference="WL-2025-0001",
        invoice_ids=("inv-1",),
        confirmed_by="finance-anna",
        source="ops",
    ),
    "IngressRejected": lambda: i.IngressRejected(
        **envelope("refused"),
        topic="reseller.orders",
        event_type="OrderRequested",
        rejected_event_id=UUID("00000000-0000-4000-8000-000000000001"),
        code="ResellerIdentityMismatch",
        field="reseller_id",
        value="fabrikam-it",
        message="must equal the message key 'contoso': a reseller speaks only for itself",
    ),
    "WebhookEndpointDisabled": lambda: w.WebhookEndpointDisabled(
        **envelope("webhook-off"),
        endpoint_id="ep-contoso-1",
        url="https://hooks.contoso.example/hub",
        failures=20,
        last_error="HTTP 503 Service Unavailable",
        disabled_at=datetime(2025, 3, 14, 9, 30, tzinfo=UTC),
    ),
    "RevenueRecognised": lambda: b.RevenueRecognised(
        **envelope("rev"),
        charge_id="chg-annual",
        customer_id="a1b2c3d4-tenant",
        subscription_id="sub-9",
        period="2025-03",
        amount_minor=1_000,
        recognised_to_date_minor=1_000,
        charge_total_minor=12_000,
        currency="EUR",
    ),
    "DunningStageReached": lambda: b.DunningStageReached(
        **envelope("dun"),
        stage="final_notice",
        days_overdue=45,
        overdue_minor=19_159,
        currency="EUR",
        invoice_ids=("inv-1",),
        credit_hold=False,
    ),
    "ReconciliationMismatch": lambda: b.ReconciliationMismatch(
        **envelope("mm"),
        mismatch_id="mm-1",
        kind="amount_differs",
        subscription_id="sub-9",
        charge_type=ChargeType.CYCLE_CHARGE,
        field="Subtotal",
        expected="139.99",
        actual="140.00",
        difference_minor=1,
        currency="EUR",
    ),
    "BillingRunRequested": lambda: b.BillingRunRequested(
        **envelope("run", None), run="close", period="2026-11", as_of=date(2026, 12, 1)
    ),
    "BillingRunContinued": lambda: b.BillingRunContinued(
        **envelope("run-page"),
        run_event_id="3f1c2b9e-0000-5000-8000-000000000001",
        period="2026-11",
        phase="invoice",
        after="cust-0042",
        pages=12,
    ),
    "BillingRunCompleted": lambda: b.BillingRunCompleted(
        **envelope("run-done"),
        run_event_id="3f1c2b9e-0000-5000-8000-000000000001",
        period="2026-11",
        pages=15,
        subscriptions_cycled=1200,
        charges_rated=1250,
        invoices_issued=140,
        credit_notes_issued=2,
        totals=(b.CurrencyTotal(currency="EUR", invoiced_minor=9123400, credited_minor=4200),),
    ),
    "TicketOpened": lambda: t.TicketOpened(
        **envelope("tick"),
        ticket_id="t-1",
        customer_id="a1b2c3d4-tenant",
        title="Outlook cannot connect",
        description="Since 09:00 no user can open their mailbox.",
        category=TicketCategory.SERVICE_NOT_ACCESSIBLE,
        severity=Severity.CRITICAL,
        language="de",
        service="exchange",
        region="eu-west",
    ),
    "TicketRouted": lambda: t.TicketRouted(
        **envelope("route"),
        ticket_id="t-1",
        desk="distributor",
        support_mode=SupportMode.DISTRIBUTOR_WHITE_LABEL,
        queue="wl-de",
        team="emea-day",
        language="de",
        brand=BRAND,
        respond_by=T0,
    ),
    "TicketEscalated": lambda: t.TicketEscalated(
        **envelope("esc"),
        ticket_id="t-1",
        severity=Severity.CRITICAL,
        reason="service not accessible",
        incident_id="EX25194",
    ),
    "TicketUpdated": lambda: t.TicketUpdated(
        **envelope("upd"), ticket_id="t-1", author="microsoft", status="escalated", note="seen"
    ),
    "TicketResolved": lambda: t.TicketResolved(
        **envelope("res"),
        ticket_id="t-1",
        resolution="Microsoft fixed EX25194",
        resolved_by="distributor",
        first_response_at=T0,
    ),
    "SlaWarning": lambda: t.SlaWarning(
        **envelope("slaw"),
        ticket_id="t-1",
        severity=Severity.MODERATE,
        target="initial_response",
        due_at=T0,
        remaining_seconds=900,
    ),
    "SlaBreached": lambda: t.SlaBreached(
        **envelope("slab"),
        ticket_id="t-1",
        severity=Severity.MODERATE,
        target="initial_response",
        due_at=T0,
        overdue_seconds=60,
    ),
    "IncidentDetected": lambda: t.IncidentDetected(
        **envelope("inc", None),
        incident_id="inc-1",
        service="exchange",
        region="eu-west",
        severity=Severity.CRITICAL,
        window_start=T0,
        window_end=T0,
        ticket_ids=("t-1", "t-2", "t-3"),
        reseller_ids=("contoso", "fabrikam-it"),
    ),
    "IncidentResolutionRequested": lambda: t.IncidentResolutionRequested(
        **envelope("irr", None),
        incident_id="inc-1",
        service="exchange",
        region="eu-west",
        requested_by="ops",
    ),
    "ServiceCreditApproved": lambda: c.ServiceCreditApproved(
        **envelope("sca", None),
        credit_id="cr-1",
        incident_id="EX25194",
        service="exchange",
        region="eu-west",
        window_start=datetime(2025, 3, 1, tzinfo=UTC),
        window_end=datetime(2025, 3, 1, 6, tzinfo=UTC),
        amount_minor=10_000,
        percentage_tier=25,
        currency="EUR",
        customer_amounts=(
            c.CustomerCreditAmount(customer_id="a1b2c3d4-tenant", amount_minor=7_000),
            c.CustomerCreditAmount(customer_id="e5f6-tenant", amount_minor=3_000),
        ),
    ),
    "ServiceCreditAllocated": lambda: c.ServiceCreditAllocated(
        **envelope("scal"),
        credit_id="cr-1",
        allocation_id="cr-1:a1b2c3d4-tenant",
        incident_id="EX25194",
        customer_id="a1b2c3d4-tenant",
        subscription_id="sub-9",
        amount_minor=7_000,
        basis_fee_minor=28_000,
        percentage_tier=25,
        currency="EUR",
        billing_mode=BillingMode.RESELLER_BILLS,
    ),
    "ServiceCreditAllocationReported": lambda: c.ServiceCreditAllocationReported(
        **envelope("scar", None),
        credit_id="cr-1",
        incident_id="EX25194",
        service="exchange",
        currency="EUR",
        approved_minor=10_000,
        allocated_minor=7_000,
        remainder_minor=3_000,
        remainder_reason="caps_reached",
        basis="fee_x_days",
        fx_difference_minor="0",
        affected_count=2,
        allocation_count=1,
        part=0,
        parts=1,
        lines=(
            c.CreditAllocationLine(
                subscription_id="sub-9",
                customer_id="a1b2c3d4-tenant",
                reseller_id="contoso",
                monthly_fee_minor=28_000,
                customer_currency="EUR",
                affected_days=1,
                days_in_month=31,
                rate_to_distributor="1",
                amount_minor=7_000,
                customer_amount_minor=7_000,
            ),
        ),
        excluded=(
            c.CreditExclusion(
                subscription_id="sub-10",
                customer_id="e5f6-tenant",
                reseller_id="fabrikam-it",
                reason="no_fx_rate",
            ),
        ),
    ),
}


BUILDERS.update(CONSUMPTION_BUILDERS)


BUILDERS.update(INCENTIVE_BUILDERS)
BUILDERS.update(RENEWAL_BUILDERS)
BUILDERS.update(RELATIONSHIP_BUILDERS)


def sample(name: str) -> Event:
    return BUILDERS[name]()


EVENT_NAMES = [model.__name__ for model in ALL_EVENTS]
