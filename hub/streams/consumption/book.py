"""The consumption book: versioned usage facts, accruals, budgets and anomalies of resellers.

One handler per input of ``hub.consumption.inputs`` (keyed by reseller, beside the flow's one
table). Every entry is keyed by the entity it is about, so a message touches a few small values
whatever the reseller's size:

- ``facts``   ``<reseller>|<period>|<sub>|<meter>|<day>`` -> the fact and what it adds to its line
- ``lines``   ``<reseller>|<period>|<customer>|<sub>|<category>`` -> exact price, cost, quantity
- ``accrual`` ``<reseller>|<period>`` -> exact price total and the minor units accrued so far
- ``spend``   ``<reseller>|<customer>|<period>`` -> a customer's exact month total
- ``days``    ``<reseller>|<customer>|<day>`` -> a customer's exact day total (anomaly rule);
  ``medians`` and ``anomalies`` under the same key: its trailing median, and a flag raised
- ``budgets`` ``<reseller>|<customer or *>`` -> budget; ``fired`` ``...|<period>`` -> thresholds
- ``markups`` ``<reseller>|<category or *>`` -> basis points
- ``settings`` ``<reseller>`` -> the id of the message that last set a budget or markup of the
  reseller or closed one of its months (what ``ReadMemo`` checks; see there)
- ``adjust``  ``<reseller>|<fact key>`` -> differences after a close, for the next invoice
- ``closed``/``closing`` ``<reseller>|<period>``: the month end (hub/streams/consumption/close.py)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hub.domain.consumption.anomaly import AnomalyRule, exceeds, trailing_median
from hub.domain.consumption.budgets import Budget, newly_crossed
from hub.domain.consumption.facts import (
    Outcome,
    UsageFact,
    UsageStage,
    UsageVersion,
    apply_version,
    close_fact,
    period_of,
)
from hub.domain.consumption.rating import accrual_delta, cost_in, price_of, to_minor
from hub.domain.consumption.reconciliation import compare
from hub.domain.orders import ReferenceView
from hub.domain.reference import ResellerProfile
from hub.errors import BusinessRuleViolation, RetriableError, ValidationFailed
from hub.metrics import child
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events import consumption as u
from hub.streams.consumption import metrics
from hub.topics import PartnerTopic, Topic, TopicCatalog

Table = MutableMapping[str, Any]
_ALL = "*"


def envelope(cause: Event, kind: str, *parts: object) -> dict[str, Any]:
    """A derived event's envelope: same cause and parts, same id and time on a replay."""
    return {**caused_by(cause, kind, *parts), "event_time": cause.event_time}


class ConsumptionBook:
    """Handlers of the consumption agent; tables are views of its journal (dicts in tests)."""

    def __init__(
        self,
        tables: Mapping[str, Table],
        topics: TopicCatalog,
        reference: Callable[[], ReferenceView],
        fx_rates: Mapping[tuple[str, str], Decimal] | None = None,
        anomaly: AnomalyRule | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.t = tables
        self.topics = topics
        self._reference = reference
        self.fx_rates = dict(fx_rates or {})
        self.anomaly = anomaly or AnomalyRule()
        self._clock = clock
        self._last_day = 0.0
        self._memos: dict[str, ReadMemo] = {}
        self._held = [0]  # entries the memos hold (counted as read; replaced ones until a clear)
        self.rated_topic = topics.name(Topic.CONSUMPTION_RATED)
        self.accruals_topic = topics.name(Topic.CONSUMPTION_ACCRUALS)
        self.alerts_topic = topics.name(Topic.CONSUMPTION_ALERTS)

    # --- plumbing --------------------------------------------------------------------------

    def memo(self, reseller_id: str) -> ReadMemo:
        """The reseller's settings as read so far by this process (``ReadMemo``), or a new one
        when its ``settings`` mark differs from the one they were read under."""
        if self._held[0] >= MEMO_LIMIT:
            self._memos.clear()
            self._held[0] = 0
        mark = self.t["settings"].get(reseller_id)
        memo = self._memos.get(reseller_id)
        if memo is None or memo.mark != mark:
            memo = self._memos[reseller_id] = ReadMemo(self.t, mark, self._held)
        return memo

    def reseller(self, reseller_id: str) -> ResellerProfile:
        profile = self._reference().resellers.get(reseller_id)
        if profile is None:
            # Reference data loads beside the flows: most likely not here yet.
            raise RetriableError(f"reseller {reseller_id} unknown (reference data not loaded?)")
        return profile

    def status(self, reseller_id: str) -> str:
        return self.topics.partner(reseller_id, PartnerTopic.STATUS)

    def on_budget(self, event: u.ConsumptionBudgetSet) -> Sequence[Emit]:
        if (event.scope == "customer") != (event.customer_id is not None):
            raise ValidationFailed(
                "customer_id", event.customer_id, "give a customer_id exactly for scope customer"
            )
        profile = self.reseller(event.reseller_id)
        if event.currency != profile.currency:
            raise ValidationFailed(
                "currency", event.currency, f"{profile.reseller_id} is billed in {profile.currency}"
            )
        budget = Budget(
            amount_minor=event.amount_minor, currency=event.currency, thresholds=event.thresholds
        )
        self.t["budgets"][f"{event.reseller_id}|{event.customer_id or _ALL}"] = budget.model_dump(
            mode="json"
        )
        self.settings_changed(event.reseller_id, str(event.event_id))
        return []

    def on_markup(self, event: u.ConsumptionMarkupSet) -> Sequence[Emit]:
        self.t["markups"][f"{event.reseller_id}|{event.meter_category or _ALL}"] = event.markup_bps
        self.settings_changed(event.reseller_id, str(event.event_id))
        return []

    def settings_changed(self, reseller_id: str, mark: str) -> None:
        """Note that a budget, markup or closed month of the reseller was written, by the
        message ``mark`` (an event id: unique, and the same on a replay)."""
        self.t["settings"][reseller_id] = mark

    def markup_bps(self, profile: ResellerProfile, category: str, memo: ReadMemo) -> int:
        rid = profile.reseller_id
        found = memo.get("markups", f"{rid}|{category}")
        if found is None:
            found = memo.get("markups", f"{rid}|{_ALL}")
        return profile.markup_bps if found is None else int(found)

    # --- usage -----------------------------------------------------------------------------

    def on_usage(self, ev: u.UsageRecorded) -> Sequence[Emit]:
        """Fold one figure into its fact; accrue the difference, or keep it as an adjustment
        when its month is closed; then budgets, the anomaly rule and reconciliation."""
        profile = self.reseller(ev.reseller_id)
        rid, cur = profile.reseller_id, profile.currency
        memo = self.memo(rid)
        period = period_of(ev.usage_date)
        key = f"{rid}|{period}|{ev.subscription_id}|{ev.meter_id}|{ev.usage_date.isoformat()}"
        local_cost = cost_in(
            cur,
            pricing_currency=ev.pricing_currency,
            pricing_total=Decimal(ev.pricing_pre_tax_total),
            billing_currency=ev.billing_currency,
            billing_total=Decimal(ev.billing_pre_tax_total),
            fx_rates=self.fx_rates,
        )
        version = UsageVersion(
            stage=UsageStage(ev.stage),
            revision=ev.revision,
            quantity=Decimal(ev.quantity),
            cost=Decimal(ev.billing_pre_tax_total),
            price=price_of(local_cost, self.markup_bps(profile, ev.meter_category, memo)),
            reason=ev.reason,
        )
        raw = self.t["facts"].get(key)
        before = None if raw is None else UsageFact.model_validate(raw["fact"])
        closed = memo.get("closed", f"{rid}|{period}") is not None
        if before is not None and closed:
            before = close_fact(before)
        emits: list[Emit] = []
        if ev.stage != "estimate" and (before is None or before.current.stage == "estimate"):
            emits += self._reconcile(ev, before)
        change = apply_version(before, ev.subscription_id, ev.meter_id, ev.usage_date, version)
        _RATED[change.outcome].inc()
        if change.outcome is Outcome.STALE:
            return emits
        old_cost = Decimal(raw["cost_local"]) if raw is not None else Decimal(0)
        if change.outcome is Outcome.NEW and closed:
            # A first figure for a month already invoiced: all of it is an adjustment.
            change_adjustment = change.fact.current.price
            fact = close_fact(change.fact)
            accrued_delta = Decimal(0)
        else:
            change_adjustment = change.adjustment
            fact = change.fact
            accrued_delta = change.accrued_delta
        self.t["facts"][key] = {
            "fact": fact.model_dump(mode="json"),
            "customer_id": ev.customer_id,
            "category": ev.meter_category,
            "cost_local": str(local_cost),
        }
        delta_minor = 0
        if closed:
            if change_adjustment != 0:
                emits += self._adjust(ev, profile, period, key, change_adjustment)
        else:
            delta_minor, accrued, spend, day = self._accrue(
                ev, profile, period, accrued_delta, local_cost - old_cost, change.quantity_delta
            )
            emits += self._accrual(ev, profile, period, delta_minor)
            emits += self._budgets(ev, profile, period, accrued, spend, memo)
            emits += self._anomaly(ev, profile, accrued_delta, day)
        emits.append(self._rated(ev, fact, change.outcome, local_cost, delta_minor, cur))
        self._lag(ev.usage_date)
        return emits

    def _rated(
        self,
        ev: u.UsageRecorded,
        fact: UsageFact,
        outcome: Outcome,
        cost: Decimal,
        delta_minor: int,
        currency: str,
    ) -> Emit:
        rated = u.UsageRated(
            **envelope(ev, "UsageRated"),
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            meter_id=ev.meter_id,
            meter_category=ev.meter_category,
            usage_date=ev.usage_date,
            period=fact.period,
            stage=ev.stage,
            revision=ev.revision,
            outcome=outcome.value,  # type: ignore[arg-type]
            quantity=str(fact.current.quantity),
            cost=str(cost),
            price=str(fact.current.price),
            delta_minor=delta_minor,
            currency=currency,
        )
        return Emit(self.rated_topic, ev.reseller_id, rated)

    def _accrue(
        self,
        ev: u.UsageRecorded,
        profile: ResellerProfile,
        period: str,
        price_delta: Decimal,
        cost_delta: Decimal,
        quantity_delta: Decimal,
    ) -> tuple[int, int, Decimal, Decimal]:
        """Move the period's accrual, the customer's month and day, and the invoice line.

        Returns what moved the rounded accrual and, as they are now, the accrual (minor units),
        the customer's month and its day: the budgets and the anomaly rule use them instead of
        reading the entries again."""
        rid, cur = profile.reseller_id, profile.currency
        accrual = self.t["accrual"].get(f"{rid}|{period}") or {"exact": "0", "minor": 0}
        exact = Decimal(accrual["exact"])
        delta_minor = accrual_delta(exact, exact + price_delta, cur)
        minor = int(accrual["minor"]) + delta_minor
        self.t["accrual"][f"{rid}|{period}"] = {
            **accrual,
            "exact": str(exact + price_delta),
            "minor": minor,
            "currency": cur,
        }
        spend_key = f"{rid}|{ev.customer_id}|{period}"
        spend = Decimal(self.t["spend"].get(spend_key) or "0") + price_delta
        self.t["spend"][spend_key] = str(spend)
        day_key = f"{rid}|{ev.customer_id}|{ev.usage_date.isoformat()}"
        day = Decimal(self.t["days"].get(day_key) or "0") + price_delta
        self.t["days"][day_key] = str(day)
        line_key = f"{rid}|{period}|{ev.customer_id}|{ev.subscription_id}|{ev.meter_category}"
        line = self.t["lines"].get(line_key) or {"price": "0", "cost": "0", "quantity": "0"}
        self.t["lines"][line_key] = {
            "price": str(Decimal(line["price"]) + price_delta),
            "cost": str(Decimal(line["cost"]) + cost_delta),
            "quantity": str(Decimal(line["quantity"]) + quantity_delta),
        }
        return delta_minor, minor, spend, day

    def _accrual(
        self, ev: u.UsageRecorded, profile: ResellerProfile, period: str, delta: int
    ) -> list[Emit]:
        """Send what the credit exposure has not been told of yet, once it is a step's worth
        (``accrual_step``): the exposure never lags the accrual by a step or more, and the
        order intake is not sent one fact for every meter's day."""
        currency = profile.currency
        if delta > 0:
            child(metrics.ACCRUED_MINOR, currency=currency).inc(delta)
        key = f"{profile.reseller_id}|{period}"
        accrual = self.t["accrual"][key]
        sent = int(accrual.get("sent", 0))
        pending = int(accrual["minor"]) - sent
        if pending == 0 or abs(pending) < accrual_step(profile.credit_limit_minor):
            return []
        self.t["accrual"][key] = {**accrual, "sent": sent + pending}
        accrued = u.ConsumptionAccrued(
            **envelope(ev, "ConsumptionAccrued"),
            currency=currency,
            delta_minor=pending,
            period=period,
            cause="usage",
        )
        return [Emit(self.accruals_topic, ev.reseller_id, accrued)]

    def _adjust(
        self,
        ev: u.UsageRecorded,
        profile: ResellerProfile,
        period: str,
        key: str,
        amount: Decimal,
    ) -> list[Emit]:
        """Keep a closed month's difference for the next invoice (summed per fact)."""
        rid = profile.reseller_id
        adjust_key = key  # <reseller>|<period>|<sub>|<meter>|<day>
        held = self.t["adjust"].get(adjust_key)
        total = amount + (Decimal(held["amount"]) if held else Decimal(0))
        reason = ev.reason or f"{ev.stage} figure after {period} was invoiced"
        self.t["adjust"][adjust_key] = {
            "amount": str(total),
            "customer_id": ev.customer_id,
            "subscription_id": ev.subscription_id,
            "category": ev.meter_category,
            "reason": reason,
        }
        adjusted = u.ConsumptionAdjusted(
            **envelope(ev, "ConsumptionAdjusted"),
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            meter_id=ev.meter_id,
            meter_category=ev.meter_category,
            usage_date=ev.usage_date,
            period=period,
            amount=str(amount),
            currency=profile.currency,
            reason=reason,
        )
        return [Emit(self.rated_topic, rid, adjusted)]

    # --- budgets and anomalies -------------------------------------------------------------

    def _budgets(
        self,
        ev: u.UsageRecorded,
        profile: ResellerProfile,
        period: str,
        accrued: int,
        spend: Decimal,
        memo: ReadMemo,
    ) -> list[Emit]:
        """Each threshold newly crossed by the reseller's accrual (``accrued``, minor units) or
        the customer's month (``spend``, exact), once a month."""
        rid, cur = profile.reseller_id, profile.currency
        emits: list[Emit] = []
        for scope, who in (("reseller", _ALL), ("customer", ev.customer_id)):
            raw = memo.get("budgets", f"{rid}|{who}")
            if raw is None:
                continue
            spent = accrued if who == _ALL else to_minor(spend, cur)
            budget = Budget.model_validate(raw)
            fired_key = f"{rid}|{who}|{period}"
            fired = list(self.t["fired"].get(fired_key) or [])
            for threshold in newly_crossed(budget, spent, fired):
                fired.append(threshold)
                metrics.BUDGET_ALERTS.labels(scope=scope, threshold=str(threshold)).inc()
                alert = u.ConsumptionBudgetThresholdReached(
                    **envelope(ev, "ConsumptionBudgetThresholdReached", who, period, threshold),
                    scope=scope,  # type: ignore[arg-type]
                    customer_id=None if who == _ALL else who,
                    period=period,
                    threshold_percent=threshold,
                    budget_minor=budget.amount_minor,
                    spent_minor=spent,
                    currency=cur,
                )
                subject = rid if who == _ALL else who
                emits += [
                    Emit(self.status(rid), subject, alert),
                    Emit(self.alerts_topic, rid, alert),
                ]
            if len(fired) != len(self.t["fired"].get(fired_key) or []):
                self.t["fired"][fired_key] = fired
        return emits

    def _anomaly(
        self, ev: u.UsageRecorded, profile: ResellerProfile, price_delta: Decimal, total: Decimal
    ) -> list[Emit]:
        """Flag the customer's day once, when its spend (``total``, exact) passes the rule's
        bound.

        The trailing median is taken once per customer and day, at the day's first figure, and
        kept (``medians``): a day's other meters compare with it without reading the window
        again. A day with too little history keeps "-" and is never flagged. Whether the day
        was flagged already is read only once it passes the bound (rarely), not per figure.
        """
        if price_delta <= 0:
            return []
        rid, cur, cid = profile.reseller_id, profile.currency, ev.customer_id
        flagged = f"{rid}|{cid}|{ev.usage_date.isoformat()}"
        kept = self.t["medians"].get(flagged)
        if kept is None:
            trailing: list[int] = []
            for back in range(self.anomaly.window, 0, -1):
                earlier = ev.usage_date - timedelta(days=back)
                raw = self.t["days"].get(f"{rid}|{cid}|{earlier.isoformat()}")
                if raw is not None:
                    trailing.append(to_minor(Decimal(raw), cur))
            found = trailing_median(trailing, self.anomaly)
            kept = "-" if found is None else str(found)
            self.t["medians"][flagged] = kept
        if kept == "-":
            return []
        median = Decimal(kept)
        day = to_minor(total, cur)
        if not exceeds(day, median, self.anomaly) or flagged in self.t["anomalies"]:
            return []
        self.t["anomalies"][flagged] = 1
        metrics.ANOMALIES.inc()
        alert = u.ConsumptionAnomalyDetected(
            **envelope(ev, "ConsumptionAnomalyDetected", cid, ev.usage_date),
            customer_id=cid,
            usage_date=ev.usage_date,
            day_minor=day,
            trailing_median_minor=str(median),
            factor=str(self.anomaly.factor),
            currency=cur,
        )
        return [Emit(self.status(rid), cid, alert), Emit(self.alerts_topic, rid, alert)]

    # --- reconciliation --------------------------------------------------------------------

    def _reconcile(self, ev: u.UsageRecorded, rated: UsageFact | None) -> list[Emit]:
        """Microsoft's billed figure against the estimate the hub rated: each difference an
        event (the billed figure then replaces the estimate, as a later version)."""
        emits: list[Emit] = []
        findings = compare(rated, Decimal(ev.quantity), Decimal(ev.billing_pre_tax_total))
        for finding in findings:
            metrics.MISMATCHES.labels(kind=finding.kind.value).inc()
            found = u.UsageMismatchFound(
                **envelope(ev, "UsageMismatchFound", finding.kind.value),
                customer_id=ev.customer_id,
                subscription_id=ev.subscription_id,
                meter_id=ev.meter_id,
                usage_date=ev.usage_date,
                kind=finding.kind.value,
                expected=None if finding.expected is None else str(finding.expected),
                billed=str(finding.billed),
                invoice_number=ev.invoice_number,
            )
            emits.append(Emit(self.alerts_topic, ev.reseller_id, found))
        return emits

    def _lag(self, day: date) -> None:
        end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        lag = (self._clock() - end).total_seconds()
        if lag >= 0:
            metrics.INGESTION_LAG.observe(lag)
        start = (end - timedelta(days=1)).timestamp()
        if start > self._last_day:
            self._last_day = start
            metrics.LAST_USAGE_DAY.set(start)


# Entries the memos of all resellers hold before they start again (a worker's memory stays
# bounded however many resellers and customers its partitions hold).
MEMO_LIMIT = 100_000


class ReadMemo:
    """A reseller's budgets, markups and closed months as read by this process, kept for its
    next usage figures: they change rarely, and each figure would read five of them (the
    category's and the default markup, the reseller's and the customer's budget, whether the
    month is closed), in a worker mostly RocksDB reads of absent keys.

    They are valid while the reseller's ``settings`` entry still holds ``mark``: every message
    that writes one of them also writes its own event id there (``settings_changed``), in the
    same journal entry, so one read of that entry per figure tells whether anything changed,
    whichever worker, batch or replay wrote it. A batch that is dropped and handled again writes
    the same ids with the same values.
    """

    def __init__(self, tables: Mapping[str, Table], mark: Any, held: list[int]) -> None:
        self.t = tables
        self.mark = mark
        self.values: dict[tuple[str, str], Any] = {}
        # Entries kept by all memos of the book (one counter they share).
        self.held = held

    def get(self, view: str, key: str) -> Any:
        try:
            return self.values[(view, key)]
        except KeyError:
            found = self.values[(view, key)] = self.t[view].get(key)
            self.held[0] += 1
            return found


# The rated counter's child per outcome, looked up once rather than per figure.
_RATED = {outcome: metrics.USAGE_RATED.labels(outcome=outcome.value) for outcome in Outcome}


def accrual_step(credit_limit_minor: int) -> int:
    """How much accrued consumption waits before the credit exposure hears of it: 0.01 % of
    the reseller's credit limit (at least one minor unit). A limit of 50,000.00 moves in steps
    of 5.00; a distributor's exposure is never that exact anyway (receivables age daily)."""
    return max(credit_limit_minor // 10_000, 1)


def require_reseller(event: Event) -> str:
    if event.reseller_id is None:
        raise BusinessRuleViolation("NoReseller", f"{type(event).__name__} names no reseller")
    return event.reseller_id
