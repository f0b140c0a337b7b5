"""Microsoft's promotions as every worker holds them: read whole from the compacted
``hub.renewals.promotions`` (outside any consumer group, like the reference data), so a renewal
priced on any partition sees every promotion running on its renewal day."""

from __future__ import annotations

import asyncio

from hub.domain.price_lists import Promotion
from hub.schemas.envelope import Event
from hub.schemas.events.renewals import PromotionPublished


class PromotionBook:
    """The latest record per promotion id; ``loaded`` once the topic was read to its end."""

    def __init__(self) -> None:
        self.by_id: dict[str, Promotion] = {}
        self.loaded = asyncio.Event()

    def apply(self, event: Event) -> None:
        if isinstance(event, PromotionPublished):
            self.by_id[event.promotion.promotion_id] = event.promotion

    def all(self) -> tuple[Promotion, ...]:
        return tuple(self.by_id.values())

    def ready(self) -> bool:
        return self.loaded.is_set()
