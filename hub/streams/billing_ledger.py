"""The billing flow's handlers over its tables: rate, close a month, collect, reconcile.

Tables are plain mappings (faust tables in the worker, dicts in unit tests). Every table is
written only while handling an event keyed by reseller id, so each key lives on its reseller's
partition. Each handled event's outputs are kept by event id: a redelivered event yields the
same events again (same ids) and never a second charge, invoice or notice.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.domain import charges as ch
from hub.domain.collections import (
    CreditBalance,
    DunningStage,
    Payment,
    Receivable,
    apply_payment,
    dunning_transitions,
    settle,
)
from hub.domain.enums import (
    BillingCycle,
    BillingMode,
    ChargeType,
    ProductKind,
    SubscriptionStatus,
)
from hub.domain.invoicing import Invoice, InvoiceKind, build_invoice, period_bounds
from hub.domain.orders import ReferenceView
from hub.domain.rating import Charge, RatedLine, RoundingRule, rate_charge
from hub.domain.reconciliation import ReconciliationLine, ReconciliationPolicy, reconcile
from hub.domain.reference import ResellerProfile
from hub.domain.revenue import RevenueSchedule, adjust_on_cancellation, schedule_revenue
from hub.domain.tax import TaxTable, default_tax_table
from hub.errors import BusinessRuleViolation, RetriableError, ValidationFailed
from hub.runtime.pipeline import Emit
from hub.runtime.stored_events import restore_emit, store_emit
from hub.schemas.envelope import Event
from hub.schemas.events.billing import (
    BillingRunRequested,
    Party,
    PaymentReceived,
    ReconciliationLineReceived,
)
from hub.schemas.events.credits import ServiceCreditAllocated
from hub.schemas.events.orders import ProvisioningFailed, SubscriptionProvisioned
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams import billing_documents as docs
from hub.streams import billing_metrics as metrics
from hub.topics import PartnerTopic, Topic, TopicCatalog

Table = MutableMapping[str, Any]
# Billed up front for more than a month: recognised month by month.
_UP_FRONT = {BillingCycle.ANNUAL, BillingCycle.TRIENNIAL}
_SCHEDULED = {ChargeType.NEW, ChargeType.RENEW, ChargeType.CYCLE_CHARGE}
_LIVE = {SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED}


class ReconciliationSettings(BaseSettings):
    """``HUB_RECONCILIATION_ROUNDING`` (``unit_price_first``, the documented default, or
    ``line_total``) and ``HUB_RECONCILIATION_TOLERANCE_MINOR`` (per line, default 0)."""

    model_config = SettingsConfigDict(env_prefix="HUB_RECONCILIATION_", frozen=True)

    rounding: RoundingRule = RoundingRule.UNIT_PRICE_FIRST
    tolerance_minor: int = 0

    def policy(self) -> ReconciliationPolicy:
        return ReconciliationPolicy(rounding=self.rounding, tolerance_minor=self.tolerance_minor)


@dataclass
class BillingTables:
    """The flow's state. Keys: ids, or ``<reseller>|<...>`` for per-reseller entries."""

    done: Table  # event id -> the emits it produced (redelivery re-sends them)
    subscriptions: Table  # subscription id -> BilledSubscription
    reseller_subs: Table  # reseller -> [subscription ids]
    lines: Table  # line id -> RatedLine
    unbilled: Table  # reseller -> [line ids not yet invoiced]
    cost_index: Table  # reseller|YYYY-MM -> [line ids charged from that month]
    series: Table  # invoice series -> last number used
    closed: Table  # reseller|YYYY-MM -> run id that closed it; reseller|last -> YYYY-MM
    receivables: Table  # reseller -> [Receivable]
    credit: Table  # reseller|currency -> overpayments and credit notes not yet used
    dunning: Table  # reseller -> {invoice id: stage}
    revenue: Table  # reseller -> {line id: [customer, subscription, RevenueSchedule]}
    recon: Table  # reseller|YYYY-MM -> {source:line: ReconciliationLineReceived}

    @classmethod
    def in_memory(cls) -> BillingTables:
        return cls(**{name: {} for name in cls.__dataclass_fields__})


class _Issued(BaseModel):
    """What one close issues (see ``BillingLedger.on_close``), kept under
    ``closed[<reseller>|<period>|issued]``."""

    numbers: dict[str, int] = {}  # invoice series -> the last number this close used
    receivables: list[dict[str, Any]] = []  # Receivable, per invoice
    credits: list[tuple[str, str, int]] = []  # (credit key, credit note id, amount), per note
    billed: list[str] = []  # the line ids it invoiced
    emits: list[list[Any]] = []  # the invoice events, as BillingLedger._store keeps them


def _receivable_of(rid: str, invoice: Invoice) -> Receivable:
    return Receivable(
        invoice_id=invoice.invoice_id,
        number=invoice.number,
        reseller_id=rid,
        currency=invoice.currency,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        total_minor=invoice.total_minor,
    )


@dataclass(frozen=True)
class Distributor:
    """The distributor as the issuer of reseller-billed invoices."""

    party_id: str
    name: str
    country: str


def _append_once(table: Table, key: str, item: Any) -> None:
    """Append ``item`` to the list at ``key`` unless it is there: a replay adds nothing."""
    items = _list(table, key)
    if item not in items:
        table[key] = [*items, item]


def _list(table: Table, key: str) -> list[Any]:
    return list(table.get(key) or [])


def _month(day: Any) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class BillingLedger:
    """One handler per input; each returns the events to send (``Emit``)."""

    def __init__(
        self,
        tables: BillingTables,
        topics: TopicCatalog,
        reference: ReferenceView,
        distributor: Distributor,
        tax: TaxTable | None = None,
        policy: ReconciliationPolicy | None = None,
    ) -> None:
        self.t = tables
        self.topics = topics
        self.ref = reference
        self.distributor = distributor
        self.tax = tax or default_tax_table()
        self.policy = policy or ReconciliationSettings().policy()

    # --- plumbing ------------------------------------------------------------------------

    async def handle(self, event: Event) -> Sequence[Emit]:
        """Dispatch one input; a redelivered event gets exactly its first outputs again."""
        if isinstance(event, BillingRunRequested) and event.reseller_id is None:
            return self._fan_out(event)
        stored = self.t.done.get(str(event.event_id))
        if stored is not None:
            return [restore_emit(doc) for doc in stored]
        emits = self._dispatch(event)
        self.t.done[str(event.event_id)] = [store_emit(e) for e in emits]
        return emits

    def _dispatch(self, event: Event) -> list[Emit]:
        if isinstance(event, SubscriptionProvisioned):
            return self.on_provisioned(event)
        if isinstance(event, SubscriptionChanged):
            return self.on_changed(event)
        if isinstance(event, ServiceCreditAllocated):
            return self.on_credit_allocated(event)
        if isinstance(event, PaymentReceived):
            return self.on_payment(event)
        if isinstance(event, ReconciliationLineReceived):
            return self.on_reconciliation_line(event)
        if isinstance(event, BillingRunRequested):
            if event.run == "close":
                return self.on_close(event)
            if event.run == "dunning":
                return self.on_dunning(event)
            return self.on_reconcile(event)
        # The provisioning topic's other contract bills nothing; anything else does not belong
        # on a billing input and is dead-lettered, so it still has an outcome.
        if isinstance(event, ProvisioningFailed):
            return []
        raise ValidationFailed("event", type(event).__name__, "not a billing input")

    def _partner(self, reseller_id: str) -> str:
        return self.topics.partner(reseller_id, PartnerTopic.BILLING)

    def _reseller(self, reseller_id: str) -> ResellerProfile:
        try:
            return self.ref.resellers[reseller_id]
        except KeyError:
            raise BusinessRuleViolation(
                "UnknownReseller", f"{reseller_id} has no profile"
            ) from None

    def _fan_out(self, run: BillingRunRequested) -> list[Emit]:
        inputs = self.topics.name(Topic.BILLING_INPUTS)
        return [Emit(inputs, rid, docs.fanned_out(run, rid)) for rid in sorted(self.ref.resellers)]

    # --- rating --------------------------------------------------------------------------

    def _sub(self, subscription_id: str) -> ch.BilledSubscription | None:
        raw = self.t.subscriptions.get(subscription_id)
        return None if raw is None else ch.BilledSubscription.model_validate(raw)

    def _save_sub(self, sub: ch.BilledSubscription) -> None:
        self.t.subscriptions[sub.subscription_id] = sub.model_dump(mode="json")
        _append_once(self.t.reseller_subs, sub.reseller_id, sub.subscription_id)

    def _rate(self, cause: Event, sub: ch.BilledSubscription, charge: Charge) -> list[Emit]:
        """Rate ``charge`` at the term's protected price; a line rated before is not re-added."""
        line = rate_charge(charge, [sub.protected_entry()], 0, rounding=self.policy.rounding)
        return self._book(cause, line, sub)

    def _book(self, cause: Event, line: RatedLine, sub: ch.BilledSubscription) -> list[Emit]:
        """Book ``line`` unless booked before; either way its charge is emitted (same event id).

        A crash can leave a message's table writes half delivered (they travel several
        changelog topics). Every write here is idempotent and the ``lines`` entry, the one that
        says "booked", is written last, so a replay completes what a crash cut short.
        """
        rid = line.reseller_id
        if line.line_id not in self.t.lines:
            _append_once(self.t.unbilled, rid, line.line_id)
            _append_once(self.t.cost_index, f"{rid}|{_month(line.period_start)}", line.line_id)
            if line.charge_type in _SCHEDULED and line.billing_cycle in _UP_FRONT:
                schedule = schedule_revenue(
                    line.line_id,
                    line.price_minor,
                    line.currency,
                    line.period_start,
                    line.period_end,
                )
                plans = dict(self.t.revenue.get(rid) or {})
                plans[line.line_id] = [
                    sub.customer_id,
                    sub.subscription_id,
                    schedule.model_dump(mode="json"),
                ]
                self.t.revenue[rid] = plans
            self.t.lines[line.line_id] = line.model_dump(mode="json")
            metrics.CHARGES_RATED.labels(charge_type=line.charge_type.value).inc()
        # Internal only: a rated line carries the distributor's Microsoft cost, which no
        # reseller may read; resellers see their charges on their invoices.
        return [Emit(self.topics.name(Topic.CHARGES), rid, docs.charge_rated(cause, line))]

    def on_provisioned(self, ev: SubscriptionProvisioned) -> list[Emit]:
        item = self.ref.catalogue.get(f"{ev.product_id}:{ev.sku_id}:{ev.availability_id}")
        sub = ch.BilledSubscription(
            subscription_id=ev.subscription_id,
            customer_id=ev.customer_id,
            reseller_id=ev.reseller_id,
            product_id=ev.product_id,
            sku_id=ev.sku_id,
            availability_id=ev.availability_id,
            kind=item.kind if item is not None else ProductKind.SUBSCRIPTION,
            term=ev.term,
            billing_cycle=ev.billing_cycle,
            currency=ev.currency,
            quantity=ev.quantity,
            term_start=ev.term_start,
            term_end=ev.term_end,
            auto_renew=ev.auto_renew,
            unit_cost_minor=ev.unit_cost_minor,
            unit_price_minor=ev.unit_price_minor,
            provisioned_by=str(ev.event_id),
        )
        existing = self._sub(sub.subscription_id)
        if existing is not None and existing.provisioned_by != sub.provisioned_by:
            # Provisioned twice under two event ids: the subscription is already billed.
            return []
        # New, or this event again after a crash cut its writes short: complete them (kept
        # state wins: later changes may have moved it on). Booking the purchase is idempotent.
        self._save_sub(existing or sub)
        return self._rate(ev, sub, ch.purchase_charge(sub, str(ev.event_id)))

    def on_changed(self, ev: SubscriptionChanged) -> list[Emit]:
        sub = self._sub(ev.subscription_id)
        if sub is None:
            # The provisioning fact travels another topic and may not be here yet.
            raise RetriableError(f"subscription {ev.subscription_id} is not provisioned yet")
        # A seat change is two lines, as Microsoft bills it: the old quantity refunded and the
        # new total charged (same charge type and dates); a cancellation is one.
        charges = ch.change_charges(
            sub,
            str(ev.event_id),
            kind=ev.kind,
            old_quantity=ev.old_quantity,
            new_quantity=ev.new_quantity,
            effective_at=ev.effective_at,
        )
        emits = [e for charge in charges for e in self._rate(ev, sub, charge)]
        for charge in charges:
            if charge.charge_type == ChargeType.CANCEL_IMMEDIATE:
                self._replan_revenue(sub, charge)
        self._save_sub(
            ch.apply_change(
                sub,
                kind=ev.kind,
                new_quantity=ev.new_quantity,
                auto_renew=ev.auto_renew,
                active=ev.status in _LIVE,
            )
        )
        return emits

    def _replan_revenue(self, sub: ch.BilledSubscription, cancel: Charge) -> None:
        """A cancellation re-plans the open months of the up-front charge it refunds."""
        rid = sub.reseller_id
        plans = dict(self.t.revenue.get(rid) or {})
        closed_through = self.t.closed.get(f"{rid}|last")
        refund_lines = [
            RatedLine.model_validate(self.t.lines[i])
            for i in _list(self.t.unbilled, rid)
            if i in self.t.lines
        ]
        refund = sum(
            -ln.price_minor
            for ln in refund_lines
            if ln.subscription_id == sub.subscription_id
            and ln.charge_type == ChargeType.CANCEL_IMMEDIATE
            and ln.source_id == cancel.source_id
        )
        on = cancel.effective_date or cancel.period_start
        for line_id, (customer, sid, raw) in sorted(plans.items()):
            schedule = RevenueSchedule.model_validate(raw)
            if sid != sub.subscription_id or not (
                schedule.service_start <= on <= schedule.service_end
            ):
                continue
            adjusted = adjust_on_cancellation(
                schedule,
                cancel_date=on,
                refund_minor=min(refund, schedule.total_minor),
                closed_through=closed_through,
            )
            plans[line_id] = [customer, sid, adjusted.model_dump(mode="json")]
        self.t.revenue[rid] = plans

    def on_credit_allocated(self, ev: ServiceCreditAllocated) -> list[Emit]:
        """A customer's share of a service credit becomes a ``customerCredit`` line on the next
        invoice of whoever bills the customer: the reseller's invoice from the distributor, or
        the customer's white-label invoice in the reseller's name (``_invoice`` groups by the
        reseller's billing mode). The line is dated on the approval's day, its id derives from
        the allocation id, so a second delivery of the same allocation adds no second line.
        """
        sub = self._sub(ev.subscription_id) if ev.subscription_id else None
        if sub is None:
            if not ev.subscription_id:
                raise BusinessRuleViolation(
                    "UnknownSubscription", f"credit {ev.allocation_id} names no subscription"
                )
            # The provisioning fact travels another topic and may not be here yet.
            raise RetriableError(
                f"credit {ev.allocation_id}: subscription {ev.subscription_id} not billed yet"
            )
        if (sub.reseller_id, sub.customer_id, sub.currency) != (
            ev.reseller_id,
            ev.customer_id,
            ev.currency,
        ):
            raise BusinessRuleViolation(
                "CreditDoesNotMatchSubscription",
                f"credit {ev.allocation_id} is for {ev.reseller_id}/{ev.customer_id} in "
                f"{ev.currency}; subscription {sub.subscription_id} is billed to "
                f"{sub.reseller_id}/{sub.customer_id} in {sub.currency}",
            )
        day = ev.event_time.date()
        charge = Charge.model_validate(
            {
                **ch.purchase_charge(sub, ev.allocation_id).model_dump(),
                "charge_type": ChargeType.CUSTOMER_CREDIT,
                "quantity": 0,
                "period_start": day,
                "period_end": day,
                "effective_date": None,
                "credit_cost_minor": ev.amount_minor,
                "credit_price_minor": ev.amount_minor,
            }
        )
        return self._book(ev, rate_charge(charge, [], 0), sub)

    # --- month end -----------------------------------------------------------------------

    def on_close(self, run: BillingRunRequested) -> list[Emit]:
        """Cycle charges and renewals, the period's invoices, revenue, then dunning.

        The invoices are decided once and written in one entry before any of their effects
        (numbers, receivables, credit, unbilled lines), which are each idempotent; a replay
        after a crash cut those writes short applies the same invoices again and sends them.
        """
        rid = run.reseller_id or ""
        period = run.period or ""
        key = f"{rid}|{period}"
        if self.t.closed.get(key, str(run.event_id)) != str(run.event_id):
            return []  # closed before, by another run: nothing new
        first, last = period_bounds(period)
        profile = self._reseller(rid)
        emits: list[Emit] = []
        for sid in _list(self.t.reseller_subs, rid):
            emits += self._cycle(run, sid, first, last, profile)
        issued = self._issued(run, key, profile, last)
        self._take_effect(rid, issued)
        emits += [restore_emit(doc) for doc in issued.emits]
        emits += self._recognise(run, rid, period)
        self.t.closed[key] = str(run.event_id)
        self.t.closed[f"{rid}|last"] = max(period, self.t.closed.get(f"{rid}|last") or period)
        emits += self.on_dunning(run)
        return emits

    def _cycle(
        self, run: BillingRunRequested, sid: str, first: Any, last: Any, profile: ResellerProfile
    ) -> list[Emit]:
        """Rate ``sid``'s cycle charges and renewals due by ``last``.

        The subscription is saved with the lines this run rated (``cycled_by``): once it is
        renewed, a replay of the run after a crash finds nothing due and sends those again.
        """
        sub = self._sub(sid)
        if sub is None:
            return []
        source = str(run.event_id)
        if sub.cycled_by is not None and sub.cycled_by[0] == source:
            lines = [
                RatedLine.model_validate(self.t.lines[i])
                for i in sub.cycled_by[1]
                if i in self.t.lines
            ]
            topic = self.topics.name(Topic.CHARGES)
            return [Emit(topic, ln.reseller_id, docs.charge_rated(run, ln)) for ln in lines]
        rated: list[RatedLine] = []

        def rate(sub: ch.BilledSubscription, charge: Charge) -> list[Emit]:
            rated.append(
                rate_charge(charge, [sub.protected_entry()], 0, rounding=self.policy.rounding)
            )
            return self._book(run, rated[-1], sub)

        emits: list[Emit] = []
        for charge in ch.cycle_charges(sub, first, last, source):
            emits += rate(sub, charge)
        while ch.renewal_due(sub, last):
            prices = list(self.ref.prices.get(sub.catalog_item_id) or [])
            sub = ch.renew(sub, prices, profile.markup_bps)
            emits += rate(sub, ch.renewal_charge(sub, source))
            for charge in ch.cycle_charges(sub, first, last, source):
                emits += rate(sub, charge)
        if ch.expired(sub, last) and sub.active:
            sub = sub.model_copy(update={"active": False})
        cycled = (source, tuple(ln.line_id for ln in rated))
        self._save_sub(sub.model_copy(update={"cycled_by": cycled}))
        return emits

    def _issued(
        self, run: BillingRunRequested, key: str, profile: ResellerProfile, last: Any
    ) -> _Issued:
        """The invoices this close issues: as noted before, else decided now and noted."""
        noted = f"{key}|issued"
        stored = self.t.closed.get(noted)
        if stored is not None:
            return _Issued.model_validate(stored)
        rid = profile.reseller_id
        # A line not in ``lines`` was cut short by a crash; its replay books it (see _book).
        pending = [
            RatedLine.model_validate(self.t.lines[i])
            for i in _list(self.t.unbilled, rid)
            if i in self.t.lines
        ]
        due = [ln for ln in pending if ln.period_start <= last]
        white_label = profile.billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL
        groups: dict[tuple[str, str], list[RatedLine]] = {}
        for ln in due:
            recipient = ln.customer_id if white_label else rid
            groups.setdefault((recipient, ln.currency), []).append(ln)
        first, _ = period_bounds(run.period or "")
        issued = _Issued(billed=[ln.line_id for ln in due])
        for (recipient, currency), lines in sorted(groups.items()):
            self._one_invoice(run, profile, recipient, currency, lines, first, last, issued)
        self.t.closed[noted] = issued.model_dump(mode="json")
        return issued

    def _one_invoice(
        self,
        run: BillingRunRequested,
        profile: ResellerProfile,
        recipient_id: str,
        currency: str,
        lines: list[RatedLine],
        first: Any,
        last: Any,
        issued: _Issued,
    ) -> None:
        rid = profile.reseller_id
        if profile.billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL:
            customer = self.ref.customers.get(recipient_id)
            if customer is None:
                raise BusinessRuleViolation("UnknownCustomer", f"{recipient_id} has no profile")
            issuer = Party(party_id=rid, name=profile.name, country=profile.country)
            recipient = Party(party_id=recipient_id, name=customer.name, country=customer.country)
            rule = self.tax.rule_for(customer.country, customer.region)
            exempt, language = False, customer.language
            series, prefix = f"{rid}:white-label", f"{rid.upper()}"
        else:
            d = self.distributor
            issuer = Party(party_id=d.party_id, name=d.name, country=d.country)
            recipient = Party(party_id=rid, name=profile.name, country=profile.country)
            rule = self.tax.rule_for(profile.country)
            exempt, language = profile.tax_exempt_resale, profile.languages[0]
            # The distributor keeps one continuous series per reseller account, so every
            # series lives on its reseller's partition.
            series, prefix = f"{d.party_id}:{rid}", f"D{d.party_id}-{rid.upper()}"
        last_number = issued.numbers.get(series, int(self.t.series.get(series) or 0))
        invoice = build_invoice(
            lines,
            issuer_id=issuer.party_id,
            recipient_id=recipient_id,
            currency=currency,
            period_start=first,
            period_end=last,
            issue_date=run.as_of,
            payment_terms_days=profile.payment_terms_days,
            last_number=last_number,
            number_prefix=prefix,
            tax_rule=rule,
            resale_exempt=exempt,
        )
        issued.numbers[series] = invoice.sequence
        if invoice.kind is InvoiceKind.CREDIT_NOTE:
            credit_key = f"{rid}|{invoice.currency}"
            issued.credits.append((credit_key, invoice.invoice_id, -invoice.total_minor))
        else:
            issued.receivables.append(_receivable_of(rid, invoice).model_dump(mode="json"))
        event = docs.document(
            run,
            invoice,
            reseller_id=rid,
            issuer=issuer,
            recipient=recipient,
            billing_mode=profile.billing_mode,
            brand=profile.brand,
            language=language,
            tax_rule=rule,
        )
        kind = "credit_note" if invoice.kind is InvoiceKind.CREDIT_NOTE else "invoice"
        metrics.INVOICES_ISSUED.labels(kind=kind, currency=currency).inc()
        metrics.INVOICED_MINOR.labels(kind=kind, currency=currency).inc(abs(invoice.total_minor))
        for emit in (
            Emit(self.topics.name(Topic.INVOICES), rid, event),
            Emit(self._partner(rid), invoice.invoice_id, event),
        ):
            issued.emits.append(store_emit(emit))

    def _take_effect(self, rid: str, issued: _Issued) -> None:
        """Apply the close's invoices to the tables; each write is idempotent."""
        for series, number in issued.numbers.items():
            self.t.series[series] = max(int(self.t.series.get(series) or 0), number)
        receivables = _list(self.t.receivables, rid)
        known = {r["invoice_id"] for r in receivables}
        new = [r for r in issued.receivables if r["invoice_id"] not in known]
        if new:
            self.t.receivables[rid] = [*receivables, *new]
        for key, invoice_id, amount in issued.credits:
            self._add_credit(key, invoice_id, amount)
        billed = set(issued.billed)
        unbilled = _list(self.t.unbilled, rid)
        if billed.intersection(unbilled):
            self.t.unbilled[rid] = [i for i in unbilled if i not in billed]

    def _add_credit(self, key: str, fact_id: str, amount_minor: int) -> None:
        balance = CreditBalance.of(self.t.credit.get(key))
        added = balance.add(fact_id, amount_minor)
        if added is not balance:
            self.t.credit[key] = added.model_dump(mode="json")

    def _recognise(self, run: BillingRunRequested, rid: str, period: str) -> list[Emit]:
        topic = self.topics.name(Topic.REVENUE)
        emits: list[Emit] = []
        for _, (customer, sid, raw) in sorted((self.t.revenue.get(rid) or {}).items()):
            schedule = RevenueSchedule.model_validate(raw)
            event = docs.revenue_recognised(run, rid, customer, sid, schedule, period)
            if event is not None:
                emits.append(Emit(topic, rid, event))
        return emits

    # --- collections ---------------------------------------------------------------------

    def _receivables(self, rid: str) -> list[Receivable]:
        return [Receivable.model_validate(r) for r in _list(self.t.receivables, rid)]

    def on_payment(self, ev: PaymentReceived) -> list[Emit]:
        """Apply a payment to open invoices (named ones first); what is left becomes credit."""
        rid = ev.reseller_id
        payment = Payment(
            payment_id=ev.payment_id,
            reseller_id=rid,
            currency=ev.currency,
            amount_minor=ev.amount_minor,
            received_on=ev.received_at.date(),
            invoice_id=ev.invoice_ids[0] if ev.invoice_ids else None,
        )
        # Decided once and noted before any of its effects: after a crash, the replay settles
        # the same invoices even if a close on another topic added receivables meanwhile.
        noted = f"{rid}|{ev.payment_id}"
        allocation = self.t.receivables.get(noted)
        if allocation is None:
            result = apply_payment(self._receivables(rid), payment)
            if not result.duplicate:
                allocation = {"applied": list(result.applied), "credit": result.credit_minor}
                self.t.receivables[noted] = allocation
                metrics.PAYMENTS_APPLIED.labels(currency=ev.currency).inc()
        if allocation is not None:
            if allocation["credit"]:
                self._add_credit(f"{rid}|{ev.currency}", ev.payment_id, allocation["credit"])
            before = self._receivables(rid)
            settled = settle(before, ev.payment_id, [tuple(a) for a in allocation["applied"]])
            if list(settled) != before:
                self.t.receivables[rid] = [r.model_dump(mode="json") for r in settled]
        receivables = self._receivables(rid)
        # A settled invoice leaves dunning: its stage is forgotten so a later debt starts over.
        stages = dict(self.t.dunning.get(rid) or {})
        for r in receivables:
            if r.balance_minor <= 0:
                stages.pop(r.invoice_id, None)
        self.t.dunning[rid] = stages
        return []

    def on_dunning(self, run: BillingRunRequested) -> list[Emit]:
        rid = run.reseller_id or ""
        previous = {k: DunningStage(v) for k, v in (self.t.dunning.get(rid) or {}).items()}
        notices = dunning_transitions(self._receivables(rid), previous, run.as_of)
        stages = {k: int(v) for k, v in previous.items()}
        reached: dict[tuple[str, DunningStage], list[Any]] = {}
        currency = {r.invoice_id: r.currency for r in self._receivables(rid)}
        for n in notices:
            stages[n.invoice_id] = int(n.stage)
            if n.stage > n.previous and n.balance_minor > 0:
                reached.setdefault((currency[n.invoice_id], n.stage), []).append(n)
        emits: list[Emit] = []
        for (cur, stage), items in sorted(reached.items()):
            event = docs.dunning_reached(run, rid, cur, stage, items)
            metrics.DUNNING_STAGES.labels(stage=event.stage).inc()
            emits.append(Emit(self.topics.name(Topic.COLLECTIONS), rid, event))
            emits.append(Emit(self._partner(rid), rid, event))
        # The latest run's notices are kept before the stages move: a replay after a crash
        # between the two finds no transition left, and sends the notices kept. (Only runs,
        # all on one topic, write it: an earlier run's replay finds a later run's notices and
        # stages that already hold its own.)
        noted = f"{rid}|notices"
        kept = self.t.dunning.get(noted)
        if kept is not None and kept["run"] == str(run.event_id):
            emits = [restore_emit(doc) for doc in kept["emits"]]
        elif emits:
            self.t.dunning[noted] = {
                "run": str(run.event_id),
                "emits": [store_emit(e) for e in emits],
            }
        self.t.dunning[rid] = stages
        return emits

    # --- reconciliation ------------------------------------------------------------------

    def on_reconciliation_line(self, ev: ReconciliationLineReceived) -> list[Emit]:
        rid = ev.reseller_id or ""
        key = f"{rid}|{_month(ev.charge_start_date)}"
        lines = dict(self.t.recon.get(key) or {})
        lines[f"{ev.source_id}:{ev.line_number}"] = ev.model_dump(mode="json")
        self.t.recon[key] = lines
        return []

    def on_reconcile(self, run: BillingRunRequested) -> list[Emit]:
        rid, period = run.reseller_id or "", run.period or ""
        stored = (self.t.recon.get(f"{rid}|{period}") or {}).values()
        microsoft = [
            to_reconciliation_line(ReconciliationLineReceived.model_validate(d)) for d in stored
        ]
        booked = [
            RatedLine.model_validate(self.t.lines[i])
            for i in _list(self.t.cost_index, f"{rid}|{period}")
            if i in self.t.lines
        ]
        # Service credits are in: Microsoft's customerCredit lines match the pass-through.
        result = reconcile(microsoft, booked, policy=self.policy)
        topic = self.topics.name(Topic.RECONCILIATION_MISMATCHES)
        emits: list[Emit] = []
        for m in result.mismatches:
            event = docs.mismatch_event(run, rid, period, m)
            metrics.MISMATCHES.labels(kind=event.kind).inc()
            emits.append(Emit(topic, m.subscription_id, event))
        return emits


def to_reconciliation_line(ev: ReconciliationLineReceived) -> ReconciliationLine:
    """The domain's view of a received line (amounts as Microsoft wrote them)."""
    return ReconciliationLine.model_validate(
        {
            "customer_id": ev.customer_id,
            "reseller_mpn_id": ev.reseller_mpn_id,
            "order_id": ev.order_id,
            "invoice_number": ev.invoice_number,
            "subscription_id": ev.subscription_id or "",
            "product_id": ev.product_id,
            "sku_id": ev.sku_id,
            "availability_id": ev.availability_id,
            "charge_type": ev.charge_type,
            "unit_price": ev.unit_price,
            "effective_unit_price": ev.effective_unit_price,
            "quantity": ev.quantity,
            "billable_quantity": ev.billable_quantity,
            "pc_to_bc_exchange_rate": ev.pc_to_bc_exchange_rate,
            "pricing_currency": ev.pricing_currency,
            "credit_reason_code": ev.credit_reason_code,
            "subtotal": ev.subtotal,
            "tax_total": ev.tax_total,
            "total": ev.total,
            "currency": ev.currency,
            "charge_start_date": ev.charge_start_date,
            "charge_end_date": ev.charge_end_date,
        }
    )
