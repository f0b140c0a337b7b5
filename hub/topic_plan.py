"""Every topic a deployment needs: the catalogue, each reseller's partner topics, desk queues."""

from __future__ import annotations

from collections.abc import Iterable

from hub.domain.support.rota import default_desk_config
from hub.streams.support.topics import desk_queue_specs
from hub.topics import TopicCatalog, TopicSpec


def every_topic(catalog: TopicCatalog, reseller_ids: Iterable[str] = ()) -> tuple[TopicSpec, ...]:
    """What `hub topics apply` creates: nothing is left to broker auto-creation."""
    return catalog.all(reseller_ids) + desk_queue_specs(catalog, default_desk_config())
