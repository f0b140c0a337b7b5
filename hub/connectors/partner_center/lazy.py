"""The base of the flows' ports to Partner Center: one client, started on first use.

A flow's port is built when the app is assembled, outside the worker's event loop, but the
client's HTTP session must be born inside that loop: so the client starts on the first call.
The lock keeps two concurrent first calls from starting two clients.
"""

from __future__ import annotations

import asyncio

from hub.connectors.partner_center.client import PartnerCenterClient
from hub.connectors.partner_center.config import PartnerCenterConfig


class LazyPartnerCenterPort:
    """One ``PartnerCenterClient`` for a port's calls (``_pc``), started by the first of them
    and stopped by ``stop``."""

    def __init__(self, config: PartnerCenterConfig) -> None:
        self._config = config
        self._client: PartnerCenterClient | None = None
        self._lock = asyncio.Lock()

    async def _pc(self) -> PartnerCenterClient:
        async with self._lock:
            if self._client is None:
                client = PartnerCenterClient(self._config)
                await client.start()
                self._client = client
            return self._client

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()
            self._client = None
