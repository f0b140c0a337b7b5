"""The simulator's world: clock, customers, carts, orders, subscriptions, lines, service requests.

Plain in-memory state behind one lock-free asyncio loop; the web layer only translates HTTP.
"""

from __future__ import annotations

import uuid
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hub.connectors.partner_center.errors import ErrorCode
from hub.connectors.partner_center.models import (
    IDEMPOTENCY_ATTRIBUTE,
    Cart,
    CartCheckoutResult,
    Customer,
    Invoice,
    Order,
    OrderLineItem,
    ServiceRequest,
    ServiceRequestNote,
    ServiceRequestPatch,
    ServiceRequestStatus,
)
from hub.domain.enums import BillingCycle, ChargeType, Term
from hub.simulator.partner_center.billing import (
    TERM_MONTHS,
    add_months,
    billing_period_months,
)
from hub.simulator.partner_center.catalog import Catalog, SimCatalogItem
from hub.simulator.partner_center.errors import SimError
from hub.simulator.partner_center.ledger import ChargeContext, Ledger, LedgerLine
from hub.simulator.partner_center.markets import market_currency
from hub.simulator.partner_center.subscriptions import (
    SubscriptionBook,
    SubscriptionRecord,
)


class SimClock:
    """Frozen time that moves only when told, so a test can stand on day 3 or day 8."""

    def __init__(self, start: datetime | None = None) -> None:
        moment = start or datetime.now(UTC).replace(microsecond=0)
        if moment.tzinfo is None:
            raise ValueError("the simulator clock needs a timezone-aware start")
        self._now = moment.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the simulator clock does not run backwards")
        self._now += delta
        return self._now


@dataclass
class _CartRecord:
    cart: Cart
    customer_id: str
    idempotency_key: str | None
    order_id: str | None = None


@dataclass
class _OrderRecord:
    order: Order
    idempotency_key: str | None


@dataclass
class SimulatorState:
    catalog: Catalog = field(default_factory=Catalog)
    clock: SimClock = field(default_factory=SimClock)
    provider_partner_id: str = "5000000"
    # One billing currency for every customer (the built-in sample's way), or None: each
    # customer is billed in its market's currency, as Partner Center does.
    currency: str | None = "USD"
    tax_rate: Decimal = Decimal(0)
    customers: dict[str, Customer] = field(default_factory=dict)
    # customer id -> billing currency, fixed when the customer is created (its market's).
    billing_currencies: dict[str, str] = field(default_factory=dict)
    carts: dict[str, _CartRecord] = field(default_factory=dict)
    orders: dict[str, _OrderRecord] = field(default_factory=dict)
    service_requests: dict[str, ServiceRequest] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    ledger: Ledger = field(default_factory=Ledger)
    # The last requests' identifying headers, so tests can see what a retry repeated.
    recent: deque[dict[str, str | None]] = field(default_factory=lambda: deque(maxlen=200))
    # billing currency -> (pricing currency, PCToBCExchangeRate): lines of subscriptions
    # billed in that currency are priced in the other one, as Microsoft prices in USD and bills
    # in local currency. A rate applies to subscriptions bought after it is set.
    exchange_rates: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    # (scope, key) -> id of what that key created; a repeat returns that, never a new one.
    _keys: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.subscriptions = SubscriptionBook(self.ledger, self.tax_rate)

    def now(self) -> datetime:
        return self.clock.now()

    # -- customers ---------------------------------------------------------------------------

    def create_customer(self, customer: Customer, key: str | None) -> Customer:
        existing = self._replay("customer", key)
        if existing is not None:
            return self.customers[existing]
        # Refuse an unknown market before anything is created, whichever currency bills.
        market = market_currency(customer.billing_profile.default_address.country)
        customer_id = str(uuid.uuid4())
        profile = customer.company_profile.model_copy(
            update={
                "tenant_id": customer_id,
                "company_name": customer.company_profile.company_name
                or customer.billing_profile.company_name,
            }
        )
        created = customer.model_copy(update={"id": customer_id, "company_profile": profile})
        self.customers[customer_id] = created
        self.billing_currencies[customer_id] = self.currency or market
        self._remember("customer", key, customer_id)
        return created

    def customer(self, customer_id: str) -> Customer:
        found = self.customers.get(customer_id)
        if found is None:
            raise SimError.not_found(f"customer {customer_id}")
        return found

    def billing_currency(self, customer_id: str) -> str:
        self.customer(customer_id)
        return self.billing_currencies[customer_id]

    # -- carts and orders --------------------------------------------------------------------

    def create_cart(self, customer_id: str, cart: Cart, key: str | None) -> Cart:
        currency = self.billing_currency(customer_id)
        existing = self._replay(f"cart:{customer_id}", key)
        if existing is not None:
            return self.carts[existing].cart
        if not cart.line_items:
            raise SimError(400, ErrorCode.BAD_REQUEST, "a cart needs at least one line item")
        for line in cart.line_items:
            item = self._item(line.catalog_item_id)
            if item.unit_price(line.term_duration, line.billing_cycle, currency) is None or (
                billing_period_months(line.term_duration, line.billing_cycle) is None
            ):
                raise SimError(
                    400,
                    ErrorCode.BAD_REQUEST,
                    f"{line.catalog_item_id} is not sold as {line.term_duration} "
                    f"billed {line.billing_cycle} in {currency}",
                )
            if line.quantity > item.max_quantity:
                raise SimError(
                    400,
                    ErrorCode.QUOTA_NOT_AVAILABLE,
                    f"at most {item.max_quantity} seats of {line.catalog_item_id}",
                )
            if line.reseller_partner_id() is None:
                raise SimError(
                    400,
                    ErrorCode.PARTNER_ON_RECORD_REQUIRED,
                    "an indirect provider must name the transaction_reseller participant",
                )
        now = self.now()
        stored = cart.model_copy(
            update={
                "id": str(uuid.uuid4()),
                "status": "Active",
                "creation_timestamp": now,
                "expiration_timestamp": now + timedelta(days=7),
            }
        )
        assert stored.id is not None
        self.carts[stored.id] = _CartRecord(
            cart=stored, customer_id=customer_id, idempotency_key=key
        )
        self._remember(f"cart:{customer_id}", key, stored.id)
        return stored

    def checkout(self, customer_id: str, cart_id: str, key: str | None) -> CartCheckoutResult:
        customer = self.customer(customer_id)
        currency = self.billing_currency(customer_id)
        done = self._replay(f"checkout:{customer_id}", key)
        if done is not None:
            return CartCheckoutResult(orders=[self.orders[done].order])
        record = self.carts.get(cart_id)
        if record is None or record.customer_id != customer_id:
            raise SimError.not_found(f"cart {cart_id}")
        if record.order_id is not None:
            raise SimError(400, ErrorCode.CART_ALREADY_CHECKED_OUT, f"cart {cart_id} is ordered")
        now = self.now()
        order_id = str(uuid.uuid4())
        lines: list[OrderLineItem] = []
        for number, line in enumerate(record.cart.line_items):
            item = self._item(line.catalog_item_id)
            subscription = self._subscribe(
                customer,
                currency,
                order_id,
                item,
                line.quantity,
                line.term_duration,
                line.billing_cycle,
                line.reseller_partner_id(),
                now,
            )
            lines.append(
                OrderLineItem(
                    line_item_number=number,
                    offer_id=line.catalog_item_id,
                    subscription_id=subscription.id,
                    term_duration=line.term_duration,
                    billing_cycle=line.billing_cycle,
                    friendly_name=item.sku_name,
                    quantity=line.quantity,
                    partner_id_on_record=line.reseller_partner_id(),
                )
            )
        order = Order(
            id=order_id,
            reference_customer_id=customer_id,
            currency_code=currency,
            line_items=lines,
            creation_date=now,
            status="completed",
            attributes={"objectType": "Order", **({IDEMPOTENCY_ATTRIBUTE: key} if key else {})},
        )
        self.orders[order_id] = _OrderRecord(order=order, idempotency_key=key)
        record.order_id = order_id
        record.cart = record.cart.model_copy(update={"status": "Ordered"})
        self._remember(f"checkout:{customer_id}", key, order_id)
        return CartCheckoutResult(orders=[order])

    def order(self, customer_id: str, order_id: str) -> Order:
        record = self.orders.get(order_id)
        if record is None or record.order.reference_customer_id != customer_id:
            raise SimError.not_found(f"order {order_id}")
        return record.order

    def orders_of(self, customer_id: str, key: str | None) -> list[Order]:
        self.customer(customer_id)
        return [
            record.order
            for record in self.orders.values()
            if record.order.reference_customer_id == customer_id
            and (key is None or record.idempotency_key == key)
        ]

    def _subscribe(
        self,
        customer: Customer,
        currency: str,
        order_id: str,
        item: SimCatalogItem,
        quantity: int,
        term: Term,
        cycle: BillingCycle,
        reseller: str | None,
        now: datetime,
    ) -> SubscriptionRecord:
        price = item.unit_price(term, cycle, currency)
        months = billing_period_months(term, cycle)
        assert price is not None
        assert months is not None
        assert customer.id is not None
        subscription_id = str(uuid.uuid4())
        context = ChargeContext(
            partner_id=self.provider_partner_id,
            reseller_mpn_id=reseller or "",
            customer_id=customer.id,
            customer_name=customer.billing_profile.company_name,
            customer_domain=customer.company_profile.domain,
            customer_country=customer.billing_profile.default_address.country,
            order_id=order_id,
            order_date=now,
            subscription_id=subscription_id,
            product_id=item.product_id,
            sku_id=item.sku_id,
            availability_id=item.availability_id,
            product_name=item.product_name,
            sku_name=item.sku_name,
            currency=currency,
            term_and_billing_cycle=f"{_TERM_LABEL[term]} - {cycle.capitalize()} Billing",
            billing_frequency=cycle.capitalize(),
            subscription_start=now,
            subscription_end=add_months(now, TERM_MONTHS[term]),
        )
        if currency in self.exchange_rates:
            pricing, rate = self.exchange_rates[currency]
            context = replace(context, pricing_currency=pricing, exchange_rate=rate)
        record = SubscriptionRecord(
            id=subscription_id,
            customer_id=customer.id,
            item=item,
            unit_price=price,
            quantity=quantity,
            term=term,
            cycle=cycle,
            period_months=months,
            partner_id=reseller,
            created=now,
            term_start=now,
            context=context,
            order_id=order_id,
        )
        self.subscriptions.add(record, now)
        return record

    def _item(self, catalog_item_id: str) -> SimCatalogItem:
        item = self.catalog.get(catalog_item_id)
        if item is None:
            raise SimError(
                400,
                ErrorCode.CATALOG_ITEM_ID_IS_NOT_VALID,
                f"The catalog item ID {catalog_item_id} is not valid.",
            )
        return item

    # -- time and invoices -------------------------------------------------------------------

    def advance(self, delta: timedelta) -> datetime:
        now = self.clock.advance(delta)
        self.subscriptions.advance(now)
        return now

    def month_bounds(self, period: str) -> tuple[datetime, datetime]:
        start = self.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if period == "previous":
            return add_months(start, -1), start
        return start, add_months(start, 1)

    def post_credit(
        self,
        subscription_id: str,
        amount: Decimal,
        reason: str,
        key: str | None,
        on: datetime | None = None,
    ) -> LedgerLine:
        """A credit Microsoft gives the partner for a subscription (an SLA credit, say): a
        ``customerCredit`` line with a negative amount in the billing currency, dated ``on``
        (now by default). A repeated ``key`` posts nothing new."""
        existing = self._replay("credit", key)
        if existing is not None:
            return next(line for line in self.ledger.lines if line.reference_id == existing)
        record = self.subscriptions.records.get(subscription_id)
        if record is None:
            raise SimError.not_found(f"subscription {subscription_id}")
        if amount <= 0:
            raise SimError(400, ErrorCode.BAD_REQUEST, "a credit amount is positive")
        now = self.now() if on is None else on.astimezone(UTC)
        # A credit is in the billing currency: no conversion.
        context = replace(record.context, pricing_currency="", exchange_rate=Decimal(1))
        line = self.ledger.post(
            context,
            ChargeType.CUSTOMER_CREDIT,
            unit_price=-amount,
            days=1,
            period_days=1,
            billable_quantity=1,
            charge_start=now,
            charge_end=now,
            posted_at=now,
            tax_rate=self.tax_rate,
            credit_reason_code=reason,
        )
        self._remember("credit", key, line.reference_id)
        return line

    def close_invoices(self) -> list[Invoice]:
        """Invoice every unbilled line posted before this month began, one per currency."""
        start, _ = self.month_bounds("current")
        return self.ledger.close_invoices(start, self.now())

    # -- service requests --------------------------------------------------------------------

    def create_service_request(self, request: ServiceRequest, key: str | None) -> ServiceRequest:
        existing = self._replay("servicerequest", key)
        if existing is not None:
            return self.service_requests[existing]
        now = self.now()
        request_id = f"{len(self.service_requests) + 1:015d}"
        created = request.model_copy(
            update={
                "id": request_id,
                "status": ServiceRequestStatus.OPEN,
                "created_date": now,
                "last_modified_date": now,
                "notes": [self._note(note.text, "Partner") for note in request.notes],
            }
        )
        self.service_requests[request_id] = created
        self._remember("servicerequest", key, request_id)
        return created

    def service_request(self, request_id: str) -> ServiceRequest:
        found = self.service_requests.get(request_id)
        if found is None:
            raise SimError.not_found(f"service request {request_id}")
        return found

    def update_service_request(
        self, request_id: str, patch: ServiceRequestPatch, author: str = "Partner"
    ) -> ServiceRequest:
        current = self.service_request(request_id)
        notes = list(current.notes)
        if patch.new_note is not None:
            notes.append(self._note(patch.new_note.text, author))
        updated = current.model_copy(
            update={
                "status": patch.status or current.status,
                "notes": notes,
                "last_modified_date": self.now(),
            }
        )
        self.service_requests[request_id] = updated
        return updated

    def _note(self, text: str, author: str) -> ServiceRequestNote:
        return ServiceRequestNote(text=text, created_by_name=author, created_date=self.now())

    # -- bookkeeping -------------------------------------------------------------------------

    def summary(self) -> dict[str, object]:
        by_status = Counter(str(r.status) for r in self.subscriptions.records.values())
        return {
            "now": self.now(),
            "customers": len(self.customers),
            "carts": len(self.carts),
            "orders": len(self.orders),
            "subscriptions": len(self.subscriptions.records),
            "subscriptionsByStatus": dict(by_status),
            "lineItems": len(self.ledger.lines),
            "invoices": len(self.ledger.invoices()),
            "serviceRequests": len(self.service_requests),
            "requests": dict(self.requests),
            "recentRequests": list(self.recent),
        }

    def _replay(self, scope: str, key: str | None) -> str | None:
        return None if key is None else self._keys.get((scope, key))

    def _remember(self, scope: str, key: str | None, created_id: str) -> None:
        if key is not None:
            self._keys[(scope, key)] = created_id


_TERM_LABEL = {Term.P1M: "1 Month", Term.P1Y: "1 Year", Term.P3Y: "3 Years"}
