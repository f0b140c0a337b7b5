"""Renewal approvals end to end: a reseller whose renewals need approval, a real broker, a worker
running orders and renewals, the Partner Center simulator. Without an approval, auto-renew goes
off before the deadline (the orders lifecycle at Microsoft and in its record, the reseller told
why) and the subscription expires; with one, it renews."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.domain.enums import BillingCycle, BillingMode, SupportMode
from hub.domain.reference import ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.events.reference import CatalogItemUpserted, ResellerUpserted
from hub.schemas.events.renewals import (
    RenewalApprovalRecorded,
    RenewalApproved,
    RenewalNotApproved,
    RenewalNoticeIssued,
    SubscriptionRenewed,
)
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.e2e.test_renewals import BASIC, RESELLER, Hub, _env, _order, _price
from tests.support.broker import BrokerInfo
from tests.support.simulator import partner_center


@pytest.fixture(scope="module")
def hub(kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("renewal-approvals")
    prefix = f"t.approvals.{uuid.uuid4().hex[:8]}."
    topics = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, topics.all([RESELLER])))
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"approvals-e2e-{uuid.uuid4().hex[:8]}",
            env={
                "HUB_PARTNER_CENTER_URL": url,
                "HUB_FLOWS": "orders,renewals",
                "HUB_RENEWALS_TICK_S": "3600",
                "HUB_RENEWALS_APPROVAL_RESELLERS": RESELLER,
                "HUB_RENEWALS_APPROVAL_DEADLINE_DAYS": "2",
            },
        )
        hub = Hub(kafka.bootstrap, topics, worker, tmp)
        profile = ResellerProfile(
            reseller_id=RESELLER,
            partner_id="4100001",
            name="Contoso",
            country="US",
            currency="USD",
            languages=("en",),
            billing_mode=BillingMode.RESELLER_BILLS,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=100_000_000,
            payment_terms_days=30,
        )
        hub.send(Topic.RESELLERS, RESELLER, ResellerUpserted(**_env(), reseller=profile))
        hub.send(
            Topic.CATALOG, BASIC.catalog_item_id, CatalogItemUpserted(**_env(None), item=BASIC)
        )
        hub.send(
            Topic.PRICES, BASIC.catalog_item_id, _price(BillingCycle.MONTHLY, 600, date(2020, 1, 1))
        )
        try:
            worker.start().wait_ready()
            yield hub
        finally:
            worker.stop()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_an_unapproved_renewal_expires_and_an_approved_one_renews(hub: Hub) -> None:
    unapproved = _order(hub, seats=4)
    approved = _order(hub, seats=3)
    renews = _midnight(unapproved.term_end)
    assert _midnight(approved.term_end) == renews

    approval = RenewalApproved(
        **_env(),
        approval_id=f"apr-{uuid.uuid4().hex[:6]}",
        customer_id=approved.customer_id,
        subscription_id=approved.subscription_id,
        requested_at=datetime.now(UTC),
    )
    hub.send(Topic.SUBSCRIPTION_CHANGES, RESELLER, approval)
    (recorded,) = hub.status(RenewalApprovalRecorded, approved.subscription_id)
    assert recorded.renews_at == renews

    # The 7-day notices say by when to approve.
    hub.tick(renews - timedelta(days=7))
    (notice,) = hub.status(RenewalNoticeIssued, unapproved.subscription_id)
    assert notice.approve_by == renews - timedelta(days=2)

    # The deadline: the unapproved one is switched off, at Microsoft and in the orders flow.
    hub.tick(renews - timedelta(days=2))
    (told,) = hub.status(RenewalNotApproved, unapproved.subscription_id)
    assert "not approved" in told.message
    (changed,) = hub.status(SubscriptionChanged, unapproved.subscription_id)
    assert (changed.kind, changed.auto_renew) == ("set_auto_renew", False)
    ingress = hub.read(hub.topics.name(Topic.SUBSCRIPTION_CHANGES))
    assert {type(e) for e in ingress} == {RenewalApproved}  # nothing written in its name

    hub.tick(renews + timedelta(minutes=5))
    (renewed,) = hub.status(SubscriptionRenewed, approved.subscription_id)
    assert renewed.quantity == 3
    time.sleep(3.0)
    status = hub.read(hub.topics.partner(RESELLER, PartnerTopic.STATUS))
    assert not [
        e
        for e in status
        if isinstance(e, SubscriptionRenewed) and e.subscription_id == unapproved.subscription_id
    ]
    assert not [
        e
        for e in status
        if isinstance(e, SubscriptionChanged) and e.subscription_id == approved.subscription_id
    ]
