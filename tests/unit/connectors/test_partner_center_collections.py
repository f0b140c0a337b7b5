"""The adapter's collection classes are built once, not again after every garbage collection.

pydantic caches a parametrised generic (``Collection[Subscription]``) only weakly; a class
nothing else holds was collected with the next cycle and built anew at the next call (an
order worker spent 3.7% of its samples in ``create_generic_submodel`` while it provisioned)."""

from __future__ import annotations

import gc

from hub.connectors.partner_center import client, usage
from hub.connectors.partner_center.models import Collection, Invoice, Order, Subscription
from hub.connectors.partner_center.relationships import DelegatedAdminRelationship


def test_each_collection_the_adapter_parses_is_the_same_class_after_a_collection() -> None:
    before = [Collection[m] for m in (Order, Subscription, Invoice, DelegatedAdminRelationship)]
    ids = [id(c) for c in before]
    del before
    gc.collect()
    after = [Collection[m] for m in (Order, Subscription, Invoice, DelegatedAdminRelationship)]
    assert [id(c) for c in after] == ids
    assert after[0] is client._ORDERS
    assert usage._USAGE_PAGE is Collection[usage.DailyRatedUsageLineItem]
