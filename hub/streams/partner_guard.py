"""The hub writes a partner topic only for an onboarded reseller.

A ``partner.<id>.*`` topic exists for, and is read by, one onboarded reseller. An event meant
for the topic of an id that is not in the reference data (a stranger's id in an input, a
reseller not yet loaded) goes to the distributor's own dead letters instead
(``hub.partners.undeliverable``), with the topic it was meant for: the hub never makes a broker
create, or a stranger read, such a topic.
"""

from __future__ import annotations

from collections.abc import Callable

from hub.runtime.dead_letter import Headers
from hub.topics import Topic, TopicCatalog

MEANT_FOR = "hub.undeliverable.topic"
REASON = "hub.undeliverable.reason"


def route(
    topics: TopicCatalog, onboarded: Callable[[str], bool], topic: str, headers: Headers
) -> tuple[str, Headers]:
    """Where a send to ``topic`` goes: there, or to the distributor's dead letters."""
    owner = topics.partner_owner(topic)
    if owner is None or onboarded(owner):
        return topic, headers
    return topics.name(Topic.PARTNER_DEAD_LETTERS), [
        *headers,
        (MEANT_FOR, topic.encode()),
        (REASON, f"reseller {owner!r} is not onboarded".encode()),
    ]
