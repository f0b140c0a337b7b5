"""The demo's story: what five resellers' systems, ops and Microsoft do over one month.

Each step publishes what a real party would publish (a reseller's order, an ops command, a
Microsoft approval) and waits, bounded, until the hub has answered on its topics. Nothing here
decides a business outcome: the hub does, and the summary reads what it decided.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.demo.environment import DemoEnvironment
from hub.demo.story_consumption import around as with_consumption
from hub.demo.story_incentives import around as with_incentives
from hub.demo.story_relationships import around as with_relationships
from hub.domain.enums import BillingCycle, Severity, Term, TicketCategory
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.orders import OrderLine, OrderRequested, SubscriptionProvisioned
from hub.schemas.events.subscriptions import SubscriptionChangeRequested
from hub.schemas.events.support import TicketOpened
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.topics import Topic

BASIC = ("CFQ7TTC0LH18", "0001", "CFQ7TTC0K5DL")
STANDARD = ("CFQ7TTC0LDPB", "0001", "CFQ7TTC0K5BB")
E3 = ("CFQ7TTC0LFLZ", "0001", "CFQ7TTC0K3HG")
EXCHANGE = ("CFQ7TTC0LH0R", "0001", "CFQ7TTC0K1SS")
NOT_IN_CATALOGUE = ("CFQ7TTC0ZZZZ", "0001", "CFQ7TTC0ZZZZ")

CODEC = Codec()


@dataclass
class DemoState:
    """What the story needs to remember between steps (ids the hub assigned)."""

    run_id: str
    started: datetime
    subscriptions: dict[str, SubscriptionProvisioned] = field(default_factory=dict)

    @property
    def period(self) -> str:
        """The billing month the story happens in (YYYY-MM)."""
        return self.started.strftime("%Y-%m")

    notes: list[str] = field(default_factory=list)

    def envelope(self, reseller_id: str | None, at: datetime | None = None) -> dict[str, Any]:
        return {
            "event_id": new_event_id(),
            "event_time": at or datetime.now(UTC),
            "correlation_id": f"demo-{self.run_id}-{uuid.uuid4().hex[:6]}",
            "reseller_id": reseller_id,
        }


async def wait_for(
    what: str,
    check: Callable[[], Awaitable[bool]],
    *,
    timeout_s: float = 90.0,
    every_s: float = 0.5,
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the hub did not produce {what} within {timeout_s:.0f}s")
        await asyncio.sleep(every_s)


async def decoded(env: DemoEnvironment, topic: str) -> list[Event]:
    return [CODEC.decode(r.value) for r in await read_all(env.bootstrap, topic) if r.value]


async def count_on(env: DemoEnvironment, topic: Topic, *types: type[Event]) -> int:
    events = await decoded(env, env.topics.name(topic))
    return sum(1 for e in events if isinstance(e, types))


# --- orders ----------------------------------------------------------------------------------

ORDERS: Sequence[tuple[str, str, str, tuple[str, str, str], int, Term, BillingCycle]] = (
    ("contoso-de", "ord-1001", "muenchen-bau", STANDARD, 25, Term.P1Y, BillingCycle.MONTHLY),
    ("contoso-de", "ord-1002", "hamburg-logistik", E3, 10, Term.P1Y, BillingCycle.ANNUAL),
    ("fabrikam-fr", "ord-2001", "lyon-pharma", BASIC, 15, Term.P1M, BillingCycle.MONTHLY),
    ("fabrikam-fr", "ord-2002", "paris-avocats", EXCHANGE, 8, Term.P1Y, BillingCycle.MONTHLY),
    # Northwind's GBP 1,500 limit: the first order fits, the second would exceed it (held for
    # review, released by finance), the third alone is more than the whole limit (rejected).
    ("northwind-gb", "ord-3001", "bristol-charity", BASIC, 10, Term.P1Y, BillingCycle.MONTHLY),
    ("northwind-gb", "ord-3002", "leeds-dental", STANDARD, 10, Term.P1Y, BillingCycle.MONTHLY),
    ("northwind-gb", "ord-3003", "leeds-dental", E3, 10, Term.P1Y, BillingCycle.ANNUAL),
    ("tailspin-us", "ord-4001", "miami-realty", STANDARD, 12, Term.P1Y, BillingCycle.MONTHLY),
    # Rejected: a product not in the catalogue, and another reseller's customer.
    (
        "tailspin-us",
        "ord-4002",
        "austin-robotics",
        NOT_IN_CATALOGUE,
        5,
        Term.P1Y,
        BillingCycle.MONTHLY,
    ),
    ("tailspin-us", "ord-4003", "muenchen-bau", BASIC, 3, Term.P1Y, BillingCycle.MONTHLY),
    ("adatum-jp", "ord-5001", "osaka-foods", BASIC, 20, Term.P1Y, BillingCycle.MONTHLY),
    ("adatum-jp", "ord-5002", "tokyo-games", EXCHANGE, 30, Term.P1Y, BillingCycle.MONTHLY),
)


def order_events(state: DemoState) -> list[tuple[str, OrderRequested]]:
    out = []
    for reseller, order_id, customer, (product, sku, availability), qty, term, cycle in ORDERS:
        out.append(
            (
                reseller,
                OrderRequested(
                    **state.envelope(reseller),
                    order_id=f"{order_id}-{state.run_id}",
                    customer_id=customer,
                    lines=(
                        OrderLine(
                            product_id=product,
                            sku_id=sku,
                            availability_id=availability,
                            quantity=qty,
                            term=term,
                            billing_cycle=cycle,
                        ),
                    ),
                    requested_at=state.started,
                ),
            )
        )
    return out


async def place_orders(env: DemoEnvironment, state: DemoState) -> str:
    from decimal import Decimal

    from hub.schemas.events.orders import OrderAccepted, OrderHeld, OrderRejected

    async with SimulatorAdmin(env.simulator_url) as admin:
        # Microsoft prices in US dollars and bills British customers in pounds: their lines
        # carry PricingCurrency USD and PCToBCExchangeRate 0.8.
        await admin.set_exchange_rate("GBP", "USD", Decimal("0.8"))
    orders = order_events(state)
    await publish(
        env.bootstrap,
        CODEC,
        [Outgoing(env.topics.name(Topic.ORDERS), reseller, event) for reseller, event in orders],
    )

    async def all_decided() -> bool:
        n = await count_on(env, Topic.ORDER_DECISIONS, OrderAccepted, OrderHeld, OrderRejected)
        return n >= len(orders)

    await wait_for("a decision for every order", all_decided)
    return f"{len(orders)} orders from 5 resellers decided"


async def release_held_orders(env: DemoEnvironment, state: DemoState) -> str:
    from hub.schemas.events.orders import OrderHeld

    held = [
        e
        for e in await decoded(env, env.topics.name(Topic.ORDER_DECISIONS))
        if isinstance(e, OrderHeld)
    ]
    for event in held:
        await env.hub(
            "orders",
            "release",
            event.order_id,
            "--reseller",
            event.reseller_id,
            "--reviewer",
            "finance-desk",
        )
    return f"{len(held)} held order(s) reviewed by finance and released"


async def wait_provisioned(env: DemoEnvironment, state: DemoState) -> str:
    from hub.schemas.events.orders import OrderAccepted, ProvisioningFailed

    accepted = {
        e.order_id
        for e in await decoded(env, env.topics.name(Topic.ORDER_DECISIONS))
        if isinstance(e, OrderAccepted)
    }

    async def done() -> bool:
        events = await decoded(env, env.topics.name(Topic.PROVISIONING))
        finished = {
            e.order_id
            for e in events
            if isinstance(e, SubscriptionProvisioned | ProvisioningFailed)
        }
        for e in events:
            if isinstance(e, SubscriptionProvisioned):
                state.subscriptions[e.order_id.rsplit("-", 1)[0]] = e
        return accepted <= finished

    await wait_for("every accepted order provisioned at Microsoft", done, timeout_s=120)
    return f"{len(state.subscriptions)} subscriptions live at Microsoft (simulator)"


async def change_subscriptions(env: DemoEnvironment, state: DemoState) -> str:
    """Day 1: more seats; day 3: a cancellation with refund; day 9: a refused seat cut."""
    from hub.schemas.events.subscriptions import SubscriptionChanged, SubscriptionChangeRejected

    plan = [
        ("ord-1001", 1, "change_quantity", 30),
        ("ord-2001", 3, "cancel", None),
        ("ord-5001", 9, "change_quantity", 12),
    ]
    async with SimulatorAdmin(env.simulator_url) as admin:
        day = 0
        for order_key, on_day, kind, quantity in plan:
            sub = state.subscriptions.get(order_key)
            if sub is None:
                continue
            await admin.advance(days=on_day - day)
            day = on_day
            at = state.started + timedelta(days=on_day)
            change = SubscriptionChangeRequested(
                # Sent now, asked for the story's day: the hub admits events sent about now.
                **state.envelope(sub.reseller_id),
                change_id=f"chg-{order_key}-{state.run_id}",
                customer_id=sub.customer_id,
                subscription_id=sub.subscription_id,
                kind=kind,  # type: ignore[arg-type]
                new_quantity=quantity,
                requested_at=at,
            )
            await publish(
                env.bootstrap,
                CODEC,
                [Outgoing(env.topics.name(Topic.SUBSCRIPTION_CHANGES), sub.reseller_id, change)],
            )

            async def answered(change_id: str = change.change_id) -> bool:
                events = await decoded(env, env.topics.name(Topic.SUBSCRIPTION_EVENTS))
                return any(
                    getattr(e, "change_id", None) == change_id
                    for e in events
                    if isinstance(e, SubscriptionChanged | SubscriptionChangeRejected)
                )

            await wait_for(f"an answer to change {change.change_id}", answered)
    return "seat increase (day 1), cancellation with refund (day 3), late seat cut refused (day 9)"


# --- support ---------------------------------------------------------------------------------

TICKETS: Sequence[tuple[str, str, TicketCategory, Severity, str, str, str | None, str]] = (
    (
        "contoso-de",
        "muenchen-bau",
        TicketCategory.CONFIGURATION,
        Severity.MINIMAL,
        "de",
        "m365",
        None,
        "Postfachregel für Rechnungen einrichten",
    ),
    (
        "fabrikam-fr",
        "lyon-pharma",
        TicketCategory.BILLING_AND_SUBSCRIPTION,
        Severity.MODERATE,
        "fr",
        "m365",
        None,
        "Question sur la facture de novembre",
    ),
    (
        "northwind-gb",
        "leeds-dental",
        TicketCategory.CLIENT_CONNECTIVITY_DESKTOP,
        Severity.MODERATE,
        "en",
        "m365",
        None,
        "Outlook keeps asking for the password",
    ),
    (
        "adatum-jp",
        "tokyo-games",
        TicketCategory.QUESTIONS,
        Severity.MINIMAL,
        "ja",
        "exchange",
        None,
        "共有メールボックスの追加方法",
    ),
    (
        "tailspin-us",
        "miami-realty",
        TicketCategory.PROVISIONING,
        Severity.MODERATE,
        "es",
        "m365",
        None,
        "Licencias nuevas no aparecen",
    ),
)

# A regional Exchange outage: customers of several resellers report it within minutes.
OUTAGE: Sequence[tuple[str, str, str]] = (
    ("contoso-de", "hamburg-logistik", "de"),
    ("fabrikam-fr", "paris-avocats", "fr"),
    ("fabrikam-fr", "nice-design", "en"),
    ("northwind-gb", "bristol-charity", "en"),
    ("adatum-jp", "tokyo-games", "ja"),
    ("contoso-de", "muenchen-bau", "de"),
)


async def open_tickets(env: DemoEnvironment, state: DemoState) -> str:
    from hub.schemas.events.support import TicketRouted

    events = []
    for n, (reseller, customer, category, severity, lang, service, region, title) in enumerate(
        TICKETS
    ):
        events.append(
            TicketOpened(
                **state.envelope(reseller),
                ticket_id=f"tkt-{n + 1}-{state.run_id}",
                customer_id=customer,
                title=title,
                description=title,
                category=category,
                severity=severity,
                language=lang,
                service=service,
                region=region,
            )
        )
    await publish(
        env.bootstrap,
        CODEC,
        [Outgoing(env.topics.name(Topic.TICKETS), e.reseller_id, e) for e in events],
    )

    async def routed() -> bool:
        return await count_on(env, Topic.SUPPORT_EVENTS, TicketRouted) >= len(events)

    await wait_for("every ticket routed", routed)
    return f"{len(events)} tickets in 5 languages routed (own queues and white-label desk)"


async def regional_outage(env: DemoEnvironment, state: DemoState) -> str:
    from hub.schemas.events.support import IncidentDetected

    now = datetime.now(UTC)
    events = [
        TicketOpened(
            **state.envelope(reseller, now + timedelta(seconds=20 * n)),
            ticket_id=f"out-{n + 1}-{state.run_id}",
            customer_id=customer,
            title="Exchange Online: mail not delivered",
            description="Outlook cannot send or receive since 09:10",
            category=TicketCategory.SERVICE_NOT_ACCESSIBLE,
            # Moderate: each ticket waits for its partner tier, so Microsoft hears of the
            # outage once, as an incident (a critical ticket would be escalated on its own).
            severity=Severity.MODERATE,
            language=lang,
            service="exchange",
            region="westeurope",
        )
        for n, (reseller, customer, lang) in enumerate(OUTAGE)
    ]
    await publish(
        env.bootstrap,
        CODEC,
        [Outgoing(env.topics.name(Topic.TICKETS), e.reseller_id, e) for e in events],
    )

    async def detected() -> bool:
        return await count_on(env, Topic.INCIDENTS, IncidentDetected) >= 1

    await wait_for("the outage detected as one incident", detected)
    return f"{len(events)} outage tickets from 4 resellers became one incident, escalated once"


# --- service credits -------------------------------------------------------------------------


async def service_credit(env: DemoEnvironment, state: DemoState) -> str:
    """Microsoft approves an SLA credit for the outage (25% tier); the hub passes it through."""
    from hub.schemas.events.credits import ServiceCreditAllocated
    from hub.schemas.events.support import IncidentDetected

    incidents = [
        e
        for e in await decoded(env, env.topics.name(Topic.INCIDENTS))
        if isinstance(e, IncidentDetected)
    ]
    if not incidents:
        return "no incident to claim for"
    incident = incidents[0]
    await env.hub("credits", "claim", incident.incident_id)
    await env.hub(
        "credits",
        "approve",
        incident.incident_id,
        "--currency",
        "EUR",
        "--tier-percent",
        "25",
        "--fx",
        "GBP=0.85",
        "--fx",
        "JPY=162.5",
        "--fx",
        "USD=1.08",
    )
    n = await _settled(env, Topic.CREDITS_ALLOCATED, ServiceCreditAllocated)
    await microsoft_credits(env)
    return (
        f"claim evidence prepared for incident {incident.incident_id[:8]}; Microsoft's 25% "
        f"credit passed through as {n} allocation(s) to the affected customers"
    )


async def microsoft_credits(env: DemoEnvironment) -> None:
    """Microsoft's side of the approved credit: a customerCredit line for each subscription
    credited, which reconciliation matches against the hub's pass-through."""
    from decimal import Decimal

    from hub.domain.money import exponent
    from hub.schemas.events.credits import ServiceCreditAllocated

    allocations = [
        e
        for e in await decoded(env, env.topics.name(Topic.CREDITS_ALLOCATED))
        if isinstance(e, ServiceCreditAllocated) and e.subscription_id
    ]
    async with SimulatorAdmin(env.simulator_url) as admin:
        for a in allocations:
            assert a.subscription_id is not None
            amount = Decimal(a.amount_minor).scaleb(-exponent(a.currency))
            await admin.credit(a.subscription_id, amount, key=a.allocation_id, on=a.event_time)


# --- billing ---------------------------------------------------------------------------------


async def _settled(
    env: DemoEnvironment, topic: Topic, *types: type[Event], quiet_s: float = 3.0
) -> int:
    """Wait until the count of ``types`` on ``topic`` is above zero and stops moving."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + 120
    while True:
        n = await count_on(env, topic, *types)
        if n != last:
            last, since = n, time.monotonic()
        elif n > 0 and time.monotonic() - since >= quiet_s:
            return n
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing settled on {topic.value}")
        await asyncio.sleep(0.5)


async def month_end_close(env: DemoEnvironment, state: DemoState) -> str:
    from hub.schemas.events.billing import CreditNoteIssued, InvoiceIssued

    await env.hub("billing", "close", "--period", state.period)
    n = await _settled(env, Topic.INVOICES, InvoiceIssued, CreditNoteIssued)
    return f"{state.period} closed: {n} invoices and credit notes (per reseller and white-label)"


async def payments_and_dunning(env: DemoEnvironment, state: DemoState) -> str:
    """Contoso and Adatum pay (their advices, then finance confirms the money); Northwind does
    not and goes through dunning to a credit hold, which the order credit check then applies
    to Northwind's next order."""
    from hub.schemas.events.billing import DunningStageReached, InvoiceIssued, PaymentReceived
    from hub.schemas.events.ingress import PaymentConfirmed
    from hub.schemas.events.orders import OrderAccepted, OrderHeld, OrderRejected

    invoices = [
        e
        for e in await decoded(env, env.topics.name(Topic.INVOICES))
        if isinstance(e, InvoiceIssued)
    ]
    payers = {"contoso-de", "adatum-jp", "fabrikam-fr", "tailspin-us"}
    payments = [
        PaymentReceived(
            **state.envelope(invoice.reseller_id),
            payment_id=f"pay-{invoice.invoice_id}",
            amount_minor=invoice.total_minor,
            currency=invoice.currency,
            received_at=datetime.now(UTC),
            method="bank_transfer",
            reference=invoice.number,
            invoice_ids=(invoice.invoice_id,),
        )
        for invoice in invoices
        if invoice.reseller_id in payers and invoice.total_minor > 0
    ]
    await publish(
        env.bootstrap,
        CODEC,
        [Outgoing(env.topics.name(Topic.PAYMENTS), p.reseller_id, p) for p in payments],
    )
    # An advice is a claim: only finance's confirmation settles invoices and frees credit.
    confirmations = [
        PaymentConfirmed(
            **state.envelope(p.reseller_id),
            payment_id=p.payment_id,
            amount_minor=p.amount_minor,
            currency=p.currency,
            received_at=p.received_at,
            method=p.method,
            reference=p.reference,
            invoice_ids=p.invoice_ids,
            confirmed_by="finance-demo",
            source="bank_statement",
        )
        for p in payments
    ]
    await publish(
        env.bootstrap,
        CODEC,
        [Outgoing(env.topics.name(Topic.OPS_COMMANDS), c.reseller_id, c) for c in confirmations],
    )

    async def confirmed() -> bool:
        return await count_on(env, Topic.COLLECTIONS, PaymentConfirmed) >= len(confirmations)

    await wait_for("finance's confirmations of the payments", confirmed)
    latest_due = max((i.due_date for i in invoices), default=state.started.date())
    await env.hub("billing", "dunning", "--date", str(latest_due + timedelta(days=31)))
    await _settled(env, Topic.COLLECTIONS, DunningStageReached)

    late = OrderRequested(
        **state.envelope("northwind-gb"),
        order_id=f"ord-3004-{state.run_id}",
        customer_id="bristol-charity",
        lines=(
            OrderLine(
                product_id=EXCHANGE[0],
                sku_id=EXCHANGE[1],
                availability_id=EXCHANGE[2],
                quantity=2,
                term=Term.P1Y,
                billing_cycle=BillingCycle.MONTHLY,
            ),
        ),
        requested_at=datetime.now(UTC),
    )
    await publish(
        env.bootstrap, CODEC, [Outgoing(env.topics.name(Topic.ORDERS), "northwind-gb", late)]
    )

    async def decided() -> bool:
        events = await decoded(env, env.topics.name(Topic.ORDER_DECISIONS))
        return any(
            getattr(e, "order_id", None) == late.order_id
            for e in events
            if isinstance(e, OrderAccepted | OrderHeld | OrderRejected)
        )

    await wait_for("a decision on Northwind's order after its credit hold", decided)
    return (
        f"{len(payments)} payments advised and confirmed; Northwind unpaid -> dunning -> "
        "credit hold; its next order is held for finance's review"
    )


async def reconciliation(env: DemoEnvironment, state: DemoState) -> str:
    """Microsoft's reconciliation lines, one with a price Microsoft changed, against the hub's."""
    from decimal import Decimal

    from hub.schemas.events.billing import ReconciliationMismatch

    sub = state.subscriptions.get("ord-1001")
    async with SimulatorAdmin(env.simulator_url) as admin:
        if sub is not None:
            await admin.set_line_price(
                Decimal("13.10"), subscription_id=sub.subscription_id, charge_type="new"
            )
    await env.hub("billing", "reconcile", "--period", state.period)
    n = await _settled(env, Topic.RECONCILIATION_MISMATCHES, ReconciliationMismatch)
    return f"Microsoft's lines matched against the hub's: {n} mismatch(es) raised for finance"


Step = tuple[str, Callable[[DemoEnvironment, DemoState], Awaitable[str]]]

STEPS: Sequence[Step] = (
    ("orders from five resellers", place_orders),
    ("credit review of held orders", release_held_orders),
    ("provisioning at Microsoft", wait_provisioned),
    ("subscription changes under the 7-day rule", change_subscriptions),
    ("support tickets in five languages", open_tickets),
    ("a regional outage", regional_outage),
    ("Microsoft's service credit for the outage", service_credit),
    ("month-end close", month_end_close),
    ("payments, an overdue reseller and dunning", payments_and_dunning),
    ("reconciliation with Microsoft", reconciliation),
)
STEPS = with_relationships(with_incentives(with_consumption(STEPS)))
