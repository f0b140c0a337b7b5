"""The billing flow's handlers over its state: rate, close a month, collect, reconcile.

The state is one table (``billing-state``) seen through ``BillingTables``' views, written only
through the flow's journal while handling an event keyed by reseller id, so all of a reseller's
entries live on its partition and a message's writes are made whole or replayed whole
(hub/runtime/journal.py); the journal also re-sends a redelivered event's first outputs.
Collections are entity-keyed (``<reseller>|<entity>``) and read by prefix scans: rating a
subscription writes a few small entries whatever the reseller's size.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from hub.domain import charges as ch
from hub.domain.closing import CLOSE_PAGE, whole_customer_page
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
from hub.domain.invoicing import (
    Distributor,
    Invoice,
    InvoiceKind,
    build_invoice,
    issuing,
    period_bounds,
    recipient_of,
)
from hub.domain.orders import ReferenceView
from hub.domain.rating import Charge, RatedLine, rate_charge
from hub.domain.reconciliation import ReconciliationLine, ReconciliationPolicy, reconcile
from hub.domain.reference import ResellerProfile
from hub.domain.revenue import RevenueSchedule, adjust_on_cancellation, schedule_revenue
from hub.domain.tax import TaxTable, default_tax_table
from hub.errors import BusinessRuleViolation, RetriableError, ValidationFailed
from hub.metrics import child
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore, View, scan
from hub.schemas.envelope import Event
from hub.schemas.events.billing import (
    BillingRunCompleted,
    BillingRunContinued,
    BillingRunRequested,
    Party,
    PaymentReceived,
    ReconciliationLineReceived,
)
from hub.schemas.events.consumption import ConsumptionCharged
from hub.schemas.events.credits import ServiceCreditAllocated
from hub.schemas.events.orders import ProvisioningFailed, SubscriptionProvisioned
from hub.schemas.events.relationships import (
    SubscriptionTransferred,
    SubscriptionTransferRequested,
)
from hub.schemas.events.renewals import MidTermChangeApplied, SubscriptionRenewed
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.billing import documents as docs
from hub.streams.billing import metrics
from hub.topics import PartnerTopic, Topic, TopicCatalog

Table = MutableMapping[str, Any]
# Billed up front for more than a month: recognised month by month.
_UP_FRONT = {BillingCycle.ANNUAL, BillingCycle.TRIENNIAL}
_SCHEDULED = {ChargeType.NEW, ChargeType.RENEW, ChargeType.CYCLE_CHARGE}
_LIVE = {SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED}


@dataclass
class BillingTables:
    """The flow's state, one view per kind of entry. Keys: ids, or ``<reseller>|<...>``."""

    subscriptions: Table  # subscription id -> BilledSubscription
    reseller_subs: Table  # reseller|subscription id -> 1
    lines: Table  # line id -> RatedLine
    unbilled: Table  # reseller|customer|line id -> 1, lines not yet invoiced
    cost_index: Table  # reseller|YYYY-MM|line id -> 1, lines charged from that month
    series: Table  # invoice series -> last number used
    closed: Table  # reseller|YYYY-MM -> run id that closed it; reseller|last -> YYYY-MM
    closing: Table  # reseller|YYYY-MM -> a close under way: its run, next page, counts
    receivables: Table  # reseller|invoice id -> Receivable
    payments: Table  # reseller|payment id -> how it was applied (decided once)
    credit: Table  # reseller|currency -> overpayments and credit notes not yet used
    dunning: Table  # reseller|invoice id -> stage
    revenue: Table  # reseller|subscription|line id -> [customer, subscription, RevenueSchedule]
    recon: Table  # reseller|YYYY-MM|source:line -> ReconciliationLineReceived
    next_terms: Table  # subscription id|renewal day -> what it renews as (renewals)

    @classmethod
    def of(cls, journal: Journal) -> BillingTables:
        """The views of the flow's journaled state."""
        return cls(**{name: journal.view(name) for name in cls.__dataclass_fields__})

    @classmethod
    def in_memory(cls, store: MemoryStore | None = None) -> BillingTables:
        """Views written straight to a ``MemoryStore``, without a journal (recomputations)."""
        backing = store or MemoryStore()
        return cls(
            **{name: View(f"{name}|", lambda _: backing) for name in cls.__dataclass_fields__}
        )


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


def _keys(table: Table, prefix: str) -> list[str]:
    """The rest of each key under ``prefix`` (a prefix scan), in key order."""
    return [key[len(prefix) :] for key, _ in scan(table, prefix)]


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
        self.policy = policy or ReconciliationPolicy()

    # --- plumbing ------------------------------------------------------------------------

    async def handle(self, event: Event) -> Sequence[Emit]:
        """Dispatch one input (the journal re-sends a redelivered one's first outputs)."""
        if isinstance(event, BillingRunRequested) and event.reseller_id is None:
            return self._fan_out(event)
        return self._dispatch(event)

    def _dispatch(self, event: Event) -> list[Emit]:
        if isinstance(event, SubscriptionProvisioned):
            return self.on_provisioned(event)
        if isinstance(event, SubscriptionChanged):
            return self.on_changed(event)
        if isinstance(event, ServiceCreditAllocated):
            return self.on_credit_allocated(event)
        if isinstance(event, ConsumptionCharged):
            from hub.streams.consumption.invoicing import book_consumption

            return book_consumption(self, event)
        if isinstance(event, SubscriptionRenewed):
            from hub.streams.renewals.billing import note_renewal

            return note_renewal(self, event)
        if isinstance(event, MidTermChangeApplied):
            from hub.streams.renewals.billing import bill_mid_term

            return bill_mid_term(self, event)
        if isinstance(event, SubscriptionTransferRequested | SubscriptionTransferred):
            from hub.streams.relationships.transfers import book_transfer

            return book_transfer(self, event)
        if isinstance(event, PaymentReceived):
            return self.on_payment(event)
        if isinstance(event, ReconciliationLineReceived):
            return self.on_reconciliation_line(event)
        if isinstance(event, BillingRunContinued):
            return self.on_close_page(event)
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
        self.t.reseller_subs[f"{sub.reseller_id}|{sub.subscription_id}"] = 1

    def _rate(self, cause: Event, sub: ch.BilledSubscription, charge: Charge) -> list[Emit]:
        """Rate ``charge`` at the term's protected price; a line rated before is not re-added."""
        line = rate_charge(charge, [sub.protected_entry()], 0, rounding=self.policy.rounding)
        return self._book(cause, line, sub)

    def _book(self, cause: Event, line: RatedLine, sub: ch.BilledSubscription) -> list[Emit]:
        """Book ``line`` unless booked before; either way its charge is emitted (same event id)."""
        rid = line.reseller_id
        if line.line_id not in self.t.lines:
            self.t.unbilled[f"{rid}|{line.customer_id}|{line.line_id}"] = 1
            self.t.cost_index[f"{rid}|{_month(line.period_start)}|{line.line_id}"] = 1
            if line.charge_type in _SCHEDULED and line.billing_cycle in _UP_FRONT:
                schedule = schedule_revenue(
                    line.line_id,
                    line.price_minor,
                    line.currency,
                    line.period_start,
                    line.period_end,
                )
                self.t.revenue[f"{rid}|{sub.subscription_id}|{line.line_id}"] = [
                    sub.customer_id,
                    sub.subscription_id,
                    schedule.model_dump(mode="json"),
                ]
            self.t.lines[line.line_id] = line.model_dump(mode="json")
            child(metrics.CHARGES_RATED, charge_type=line.charge_type.value).inc()
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
        lines = [
            rate_charge(charge, [sub.protected_entry()], 0, rounding=self.policy.rounding)
            for charge in charges
        ]
        emits = [e for line in lines for e in self._book(ev, line, sub)]
        for charge in charges:
            if charge.charge_type == ChargeType.CANCEL_IMMEDIATE:
                refund = sum(
                    -line.price_minor
                    for line in lines
                    if line.charge_type == ChargeType.CANCEL_IMMEDIATE
                    and line.source_id == charge.source_id
                )
                self._replan_revenue(sub, charge, refund)
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

    def _replan_revenue(self, sub: ch.BilledSubscription, cancel: Charge, refund: int) -> None:
        """A cancellation re-plans the open months of the up-front charge it refunds."""
        rid = sub.reseller_id
        closed_through = self.t.closed.get(f"{rid}|last")
        on = cancel.effective_date or cancel.period_start
        prefix = f"{rid}|{sub.subscription_id}|"
        for key, (customer, sid, raw) in scan(self.t.revenue, prefix):
            schedule = RevenueSchedule.model_validate(raw)
            if not (schedule.service_start <= on <= schedule.service_end):
                continue
            adjusted = adjust_on_cancellation(
                schedule,
                cancel_date=on,
                refund_minor=min(refund, schedule.total_minor),
                closed_through=closed_through,
            )
            self.t.revenue[key] = [customer, sid, adjusted.model_dump(mode="json")]

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
        """Start a reseller's close: its pages follow as ``BillingRunContinued`` messages.

        A close cycles the reseller's subscriptions (cycle charges, renewals), invoices the
        unbilled lines, recognises revenue and assesses dunning, ``CLOSE_PAGE`` items per
        message: no message's work or output grows with the reseller's size, and the other
        messages of the partition run between the pages. Closing a month closed (or being
        closed) by another run issues nothing new.
        """
        rid, period = run.reseller_id or "", run.period or ""
        key = f"{rid}|{period}"
        under_way = self.t.closing.get(key)
        if under_way is not None:
            # A close of this month is under way, or stopped at a page that was dead-lettered
            # (fix the cause, then close again): this run takes it over from the page it expects
            # next. Steps of the earlier run are stale from now on, and a page is never done
            # twice: only the expected step is handled, and it moves on with each page.
            phase, after = under_way["next"]
            pages = int(under_way.get("pages", 1))
            self.t.closing[key] = {**under_way, "run": run.model_dump(mode="json")}
            return [self._continue(run, phase, after, pages)]
        closed_by = self.t.closed.get(key)
        if closed_by is not None:
            return [self._completed(run, 1, {}, {}, already_closed_by=closed_by)]
        self._reseller(rid)  # an unknown reseller is refused now, not pages later
        progress = {
            "run": run.model_dump(mode="json"),
            "next": ["cycle", ""],
            "counts": {"subscriptions": 0, "charges": 0, "invoices": 0, "credit_notes": 0},
            "totals": {},
        }
        self.t.closing[key] = progress
        return [self._continue(run, "cycle", "", 1)]

    def _continue(self, run: BillingRunRequested, phase: str, after: str, pages: int) -> Emit:
        step = BillingRunContinued.model_validate(
            {
                **docs.envelope(run, "BillingRunContinued", phase, after),
                "reseller_id": run.reseller_id,
                "run_event_id": str(run.event_id),
                "period": run.period,
                "phase": phase,
                "after": after,
                "pages": pages,
            }
        )
        return Emit(self.topics.name(Topic.BILLING_INPUTS), step.reseller_id, step)

    def on_close_page(self, step: BillingRunContinued) -> list[Emit]:
        """One page of a close (see ``on_close``); a step the close does not expect is stale."""
        key = f"{step.reseller_id}|{step.period}"
        progress = self.t.closing.get(key)
        expected = None if progress is None else progress["next"]
        if progress is None or progress["run"]["event_id"] != step.run_event_id:
            return []
        if expected != [step.phase, step.after]:
            return []
        run = BillingRunRequested.model_validate(progress["run"])
        profile = self._reseller(step.reseller_id)
        first, last = period_bounds(step.period)
        progress = {
            **progress,
            "counts": dict(progress["counts"]),
            "totals": dict(progress["totals"]),
        }
        if step.phase == "cycle":
            emits, more = self._cycle_page(run, step.after, first, last, profile, progress)
            nxt = ("cycle", more) if more is not None else ("invoice", "")
        elif step.phase == "invoice":
            emits, more = self._invoice_page(run, step.after, profile, last, progress)
            nxt = ("invoice", more) if more is not None else ("revenue", "")
        elif step.phase == "revenue":
            emits, more = self._revenue_page(run, step.after)
            nxt = ("revenue", more) if more is not None else ("dunning", "")
        else:
            return self._finish(run, key, step.pages, progress)
        progress["next"] = list(nxt)
        progress["pages"] = step.pages + 1
        self.t.closing[key] = progress
        return [*emits, self._continue(run, nxt[0], nxt[1], step.pages + 1)]

    def _finish(
        self, run: BillingRunRequested, key: str, pages: int, progress: dict[str, Any]
    ) -> list[Emit]:
        rid, period = run.reseller_id or "", run.period or ""
        emits = self.on_dunning(run)
        self.t.closed[key] = str(run.event_id)
        self.t.closed[f"{rid}|last"] = max(period, self.t.closed.get(f"{rid}|last") or period)
        del self.t.closing[key]
        return [*emits, self._completed(run, pages, progress["counts"], progress["totals"])]

    def _completed(
        self,
        run: BillingRunRequested,
        pages: int,
        counts: dict[str, int],
        totals: dict[str, Any],
        already_closed_by: str | None = None,
    ) -> Emit:
        done = BillingRunCompleted.model_validate(
            {
                **docs.envelope(run, "BillingRunCompleted"),
                "reseller_id": run.reseller_id,
                "run_event_id": str(run.event_id),
                "period": run.period,
                "pages": pages,
                "subscriptions_cycled": counts.get("subscriptions", 0),
                "charges_rated": counts.get("charges", 0),
                "invoices_issued": counts.get("invoices", 0),
                "credit_notes_issued": counts.get("credit_notes", 0),
                "totals": [
                    {"currency": cur, "invoiced_minor": inv, "credited_minor": cred}
                    for cur, (inv, cred) in sorted(totals.items())
                ],
                "already_closed_by": already_closed_by,
            }
        )
        return Emit(self.topics.name(Topic.COLLECTIONS), done.reseller_id, done)

    def _cycle_page(
        self,
        run: BillingRunRequested,
        after: str,
        first: Any,
        last: Any,
        profile: ResellerProfile,
        progress: dict[str, Any],
    ) -> tuple[list[Emit], str | None]:
        """Cycle the next page of subscriptions; the last one's id if more may follow."""
        rid = profile.reseller_id
        start = f"{rid}|{after}" if after else None
        page = [k for k, _ in islice(scan(self.t.reseller_subs, f"{rid}|", start), CLOSE_PAGE)]
        emits: list[Emit] = []
        for key in page:
            emits += self._cycle(run, key[len(rid) + 1 :], first, last, profile)
        progress["counts"]["subscriptions"] += len(page)
        progress["counts"]["charges"] += len(emits)
        more = page[-1][len(rid) + 1 :] if len(page) == CLOSE_PAGE else None
        return emits, more

    def _invoice_page(
        self,
        run: BillingRunRequested,
        after: str,
        profile: ResellerProfile,
        last: Any,
        progress: dict[str, Any],
    ) -> tuple[list[Emit], str | None]:
        """Invoice the next customers' due lines, about ``CLOSE_PAGE`` lines of whole customers
        a page: white-label, each customer's own invoice; else the reseller's invoice for the
        page, so a large reseller's month is invoiced in parts (each its own number, of whole
        customers) that each fit a record. The last customer, if more may follow."""
        rid = profile.reseller_id
        # "\x7f" sorts after every character of an id: skip all of that customer's lines.
        start = f"{rid}|{after}|\x7f" if after else None
        keys = (
            (key.split("|", 2)[1], key.split("|", 2)[2])
            for key, _ in scan(self.t.unbilled, f"{rid}|", start)
        )
        line_ids, more = whole_customer_page(keys, CLOSE_PAGE)
        due: list[RatedLine] = []
        for line_id in line_ids:
            raw = self.t.lines.get(line_id)
            if raw is None:
                continue
            line = RatedLine.model_validate(raw)
            if line.period_start <= last:
                due.append(line)
        groups: dict[tuple[str, str], list[RatedLine]] = {}
        for ln in due:
            groups.setdefault((recipient_of(ln, profile.billing_mode), ln.currency), []).append(ln)
        first, _ = period_bounds(run.period or "")
        emits: list[Emit] = []
        for (recipient, currency), lines in sorted(groups.items()):
            invoice, sent = self._one_invoice(run, profile, recipient, currency, lines, first, last)
            emits += sent
            credit = invoice.kind is InvoiceKind.CREDIT_NOTE
            progress["counts"]["credit_notes" if credit else "invoices"] += 1
            invoiced, credited = progress["totals"].get(currency, (0, 0))
            if credit:
                credited += -invoice.total_minor
            else:
                invoiced += invoice.total_minor
            progress["totals"][currency] = (invoiced, credited)
        for ln in due:
            del self.t.unbilled[f"{rid}|{ln.customer_id}|{ln.line_id}"]
        return emits, more

    def _revenue_page(self, run: BillingRunRequested, after: str) -> tuple[list[Emit], str | None]:
        rid, period = run.reseller_id or "", run.period or ""
        topic = self.topics.name(Topic.REVENUE)
        start = f"{rid}|{after}" if after else None
        page = list(islice(scan(self.t.revenue, f"{rid}|", start), CLOSE_PAGE))
        emits: list[Emit] = []
        for _, (customer, sid, raw) in page:
            schedule = RevenueSchedule.model_validate(raw)
            event = docs.revenue_recognised(run, rid, customer, sid, schedule, period)
            if event is not None:
                emits.append(Emit(topic, rid, event))
        more = page[-1][0][len(rid) + 1 :] if len(page) == CLOSE_PAGE else None
        return emits, more

    def _cycle(
        self, run: BillingRunRequested, sid: str, first: Any, last: Any, profile: ResellerProfile
    ) -> list[Emit]:
        """Rate ``sid``'s cycle charges and renewals due by ``last``."""
        sub = self._sub(sid)
        if sub is None:
            return []
        source = str(run.event_id)
        emits: list[Emit] = []
        for charge in ch.cycle_charges(sub, first, last, source):
            emits += self._rate(run, sub, charge)
        while ch.renewal_due(sub, last):
            from hub.streams.renewals.billing import renew_as_scheduled

            sub = renew_as_scheduled(self, sub, profile.markup_bps)  # a scheduled next term
            emits += self._rate(run, sub, ch.renewal_charge(sub, source))
            for charge in ch.cycle_charges(sub, first, last, source):
                emits += self._rate(run, sub, charge)
        if ch.expired(sub, last) and sub.active:
            sub = sub.model_copy(update={"active": False})
        self._save_sub(sub)
        return emits

    def _one_invoice(
        self,
        run: BillingRunRequested,
        profile: ResellerProfile,
        recipient_id: str,
        currency: str,
        lines: list[RatedLine],
        first: Any,
        last: Any,
    ) -> tuple[Invoice, list[Emit]]:
        rid = profile.reseller_id
        customer = None
        if profile.billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL:
            customer = self.ref.customers.get(recipient_id)
            if customer is None:
                raise BusinessRuleViolation("UnknownCustomer", f"{recipient_id} has no profile")
        how = issuing(profile, customer, self.distributor)
        issuer = Party(**vars(how.issuer))
        recipient = Party(**vars(how.recipient))
        rule = self.tax.rule_for(how.tax_country, how.tax_region)
        exempt, language, series, prefix = how.resale_exempt, how.language, how.series, how.prefix
        last_number = int(self.t.series.get(series) or 0)
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
        self.t.series[series] = invoice.sequence
        if invoice.kind is InvoiceKind.CREDIT_NOTE:
            self._add_credit(f"{rid}|{invoice.currency}", invoice.invoice_id, -invoice.total_minor)
        else:
            receivable = _receivable_of(rid, invoice)
            self.t.receivables[f"{rid}|{invoice.invoice_id}"] = receivable.model_dump(mode="json")
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
        return invoice, [
            Emit(self.topics.name(Topic.INVOICES), rid, event),
            Emit(self._partner(rid), invoice.invoice_id, event),
        ]

    def _add_credit(self, key: str, fact_id: str, amount_minor: int) -> None:
        balance = CreditBalance.of(self.t.credit.get(key))
        added = balance.add(fact_id, amount_minor)
        if added is not balance:
            self.t.credit[key] = added.model_dump(mode="json")

    # --- collections ---------------------------------------------------------------------

    def _receivables(self, rid: str) -> list[Receivable]:
        return [Receivable.model_validate(raw) for _, raw in scan(self.t.receivables, f"{rid}|")]

    def _save_receivables(self, before: Sequence[Receivable], after: Sequence[Receivable]) -> None:
        for old, new in zip(before, after, strict=True):
            if new != old:
                key = f"{new.reseller_id}|{new.invoice_id}"
                self.t.receivables[key] = new.model_dump(mode="json")

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
        # Decided once: the same payment again (another message) is applied to nothing twice.
        noted = f"{rid}|{ev.payment_id}"
        if self.t.payments.get(noted) is not None:
            return []
        before = self._receivables(rid)
        result = apply_payment(before, payment)
        if result.duplicate:
            return []
        self.t.payments[noted] = {"applied": list(result.applied), "credit": result.credit_minor}
        metrics.PAYMENTS_APPLIED.labels(currency=ev.currency).inc()
        if result.credit_minor:
            self._add_credit(f"{rid}|{ev.currency}", ev.payment_id, result.credit_minor)
        settled = settle(before, ev.payment_id, result.applied)
        self._save_receivables(before, settled)
        # A settled invoice leaves dunning: its stage is forgotten so a later debt starts over.
        for r in settled:
            if r.balance_minor <= 0 and f"{rid}|{r.invoice_id}" in self.t.dunning:
                del self.t.dunning[f"{rid}|{r.invoice_id}"]
        return []

    def on_dunning(self, run: BillingRunRequested) -> list[Emit]:
        rid = run.reseller_id or ""
        previous = {k: DunningStage(v) for k, v in scan(self.t.dunning, f"{rid}|")}
        previous = {k[len(rid) + 1 :]: v for k, v in previous.items()}
        receivables = self._receivables(rid)
        notices = dunning_transitions(receivables, previous, run.as_of)
        reached: dict[tuple[str, DunningStage], list[Any]] = {}
        currency = {r.invoice_id: r.currency for r in receivables}
        for n in notices:
            if previous.get(n.invoice_id) != n.stage:
                self.t.dunning[f"{rid}|{n.invoice_id}"] = int(n.stage)
            if n.stage > n.previous and n.balance_minor > 0:
                reached.setdefault((currency[n.invoice_id], n.stage), []).append(n)
        emits: list[Emit] = []
        for (cur, stage), items in sorted(reached.items()):
            event = docs.dunning_reached(run, rid, cur, stage, items)
            metrics.DUNNING_STAGES.labels(stage=event.stage).inc()
            emits.append(Emit(self.topics.name(Topic.COLLECTIONS), rid, event))
            emits.append(Emit(self._partner(rid), rid, event))
        return emits

    # --- reconciliation ------------------------------------------------------------------

    def on_reconciliation_line(self, ev: ReconciliationLineReceived) -> list[Emit]:
        rid = ev.reseller_id or ""
        key = f"{rid}|{_month(ev.charge_start_date)}|{ev.source_id}:{ev.line_number}"
        self.t.recon[key] = ev.model_dump(mode="json")
        return []

    def on_reconcile(self, run: BillingRunRequested) -> list[Emit]:
        rid, period = run.reseller_id or "", run.period or ""
        microsoft = [
            to_reconciliation_line(ReconciliationLineReceived.model_validate(d))
            for _, d in scan(self.t.recon, f"{rid}|{period}|")
        ]
        booked = [
            RatedLine.model_validate(self.t.lines[i])
            for i in _keys(self.t.cost_index, f"{rid}|{period}|")
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
