"""ACLs derived from the topic catalogue: each reseller reaches its own data and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.acl import (
    AclBinding,
    Operation,
    PatternType,
    ResourceType,
    acl_bindings,
    group_prefix,
    reseller_user,
)
from hub.topics import PartnerTopic, Topic, TopicCatalog, TopicSpec

CATALOG = TopicCatalog("p.")
INGRESS = {Topic.ORDERS, Topic.SUBSCRIPTION_CHANGES, Topic.TICKETS, Topic.PAYMENTS}
reseller_ids = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)


def _matches(binding: AclBinding, name: str) -> bool:
    if binding.pattern_type is PatternType.LITERAL:
        return binding.resource_name == name
    return name.startswith(binding.resource_name)


def _of(bindings: list[AclBinding], user: str, rtype: ResourceType) -> list[AclBinding]:
    return [b for b in bindings if b.principal == f"User:{user}" and b.resource_type is rtype]


def test_a_reseller_reads_only_its_own_partner_prefix() -> None:
    bindings = acl_bindings(CATALOG, ["A", "B"])
    reads = [
        b for b in _of(bindings, "reseller-A", ResourceType.TOPIC) if b.operation.name == "READ"
    ]
    assert reads == [
        AclBinding(
            "User:reseller-A",
            ResourceType.TOPIC,
            "p.partner.A.",
            PatternType.PREFIXED,
            Operation.READ,
        )
    ]


def test_a_reseller_writes_only_its_own_ingress_topics_not_the_shared_ones() -> None:
    bindings = acl_bindings(CATALOG, ["A", "B"])
    writes = {
        b.resource_name
        for b in _of(bindings, "reseller-A", ResourceType.TOPIC)
        if b.operation is Operation.WRITE
    }
    assert writes == {CATALOG.ingress("A", topic) for topic in INGRESS}
    # The shared topics carry the writer the hub authenticated: only the hub writes them.
    assert not writes & {CATALOG.name(topic) for topic in INGRESS}
    assert not any(name.startswith("p.reseller.B.") for name in writes)
    assert all(
        b.pattern_type is PatternType.LITERAL
        for b in _of(bindings, "reseller-A", ResourceType.TOPIC)
        if b.operation is Operation.WRITE
    )


def test_no_reseller_binding_reaches_a_hub_internal_or_reference_topic() -> None:
    bindings = acl_bindings(CATALOG, ["A", "B"])
    internal = [
        spec.name for spec in CATALOG.fixed() if not spec.name.startswith("p.reseller.")
    ] + [spec.name for spec in CATALOG.dead_letters(CATALOG.fixed())]
    for user in ("reseller-A", "reseller-B"):
        for binding in _of(bindings, user, ResourceType.TOPIC):
            assert not any(_matches(binding, name) for name in internal), binding


def test_a_reseller_uses_only_consumer_groups_under_its_own_prefix() -> None:
    bindings = acl_bindings(CATALOG, ["A"])
    assert _of(bindings, "reseller-A", ResourceType.GROUP) == [
        AclBinding(
            "User:reseller-A",
            ResourceType.GROUP,
            "reseller-A.",
            PatternType.PREFIXED,
            Operation.READ,
        )
    ]


@given(reseller_ids, reseller_ids)
def test_no_pattern_granted_to_one_reseller_reaches_another_resellers_topics_or_groups(
    a: str, b: str
) -> None:
    if a == b:
        return
    bindings = acl_bindings(CATALOG, [a, b])
    theirs = [CATALOG.partner(b, kind) for kind in PartnerTopic]
    their_group = group_prefix(reseller_user(b)) + "billing-reader"
    for binding in _of(bindings, reseller_user(a), ResourceType.TOPIC):
        assert not any(_matches(binding, name) for name in theirs), binding
    for binding in _of(bindings, reseller_user(a), ResourceType.GROUP):
        assert not _matches(binding, their_group), binding


def test_the_hub_is_a_super_user_and_gets_no_bindings() -> None:
    assert not [b for b in acl_bindings(CATALOG, ["A"]) if b.principal == "User:hub"]


def test_ops_and_finance_get_what_the_catalogue_lists() -> None:
    bindings = acl_bindings(CATALOG, ["A", "B"])
    finance_reads = {
        b.resource_name
        for b in _of(bindings, "finance", ResourceType.TOPIC)
        if b.operation is Operation.READ
    }
    assert CATALOG.name(Topic.INVOICES) in finance_reads
    assert CATALOG.name(Topic.ORDERS) not in finance_reads
    assert (
        AclBinding(
            "User:ops", ResourceType.TOPIC, "p.partner.", PatternType.PREFIXED, Operation.READ
        )
        in bindings
    )
    ops_writes = {
        b.resource_name
        for b in _of(bindings, "ops", ResourceType.TOPIC)
        if b.operation is Operation.WRITE
    }
    assert CATALOG.name(Topic.RESELLERS) in ops_writes
    assert CATALOG.name(Topic.INVOICES) not in ops_writes


def test_a_shared_topic_read_by_resellers_is_refused() -> None:
    leaky = TopicSpec(
        "p.hub.everything",
        "reseller_id",
        (),
        "all resellers' data",
        readers=("reseller:<reseller_id>",),
    )
    with pytest.raises(ValueError, match="cannot list"):
        acl_bindings(CATALOG, ["A"], shared=[leaky])


def test_a_reseller_id_that_cannot_name_a_topic_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot name a topic"):
        acl_bindings(CATALOG, ["A.B"])


def test_derivation_is_sorted_without_duplicates_and_ignores_order_of_ids() -> None:
    first = acl_bindings(CATALOG, ["B", "A", "A"])
    assert first == sorted(set(first))
    assert first == acl_bindings(CATALOG, ["A", "B"])


@given(reseller_ids, reseller_ids)
def test_no_reseller_may_write_another_resellers_ingress_topic(a: str, b: str) -> None:
    if a == b:
        return
    bindings = acl_bindings(CATALOG, [a, b])
    for binding in _of(bindings, reseller_user(a), ResourceType.TOPIC):
        if binding.operation is Operation.WRITE:
            assert not any(_matches(binding, CATALOG.ingress(b, t)) for t in INGRESS), binding
