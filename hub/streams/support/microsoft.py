"""The support flow's port to Microsoft service requests, over ``PartnerCenterClient``.

The client starts lazily inside the worker's event loop (``LazyPartnerCenterPort``).
``create`` sends an idempotency key derived from the ticket or incident: a retry after a lost
reply gets the request already opened, never a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hub.connectors.partner_center.lazy import LazyPartnerCenterPort
from hub.connectors.partner_center.models import ServiceRequest, ServiceRequestStatus
from hub.domain.support.escalation import ServiceRequestPayload
from hub.domain.support.triage import severity_from_service_request


@dataclass(frozen=True)
class Observed:
    """Microsoft's side of a service request at one moment."""

    sr_id: str
    status: str
    notes: tuple[str, ...]


class ServiceRequests(Protocol):
    async def create(
        self, payload: ServiceRequestPayload, *, idempotency_key: str, correlation_id: str
    ) -> Observed: ...

    async def get(self, sr_id: str, *, correlation_id: str) -> Observed: ...

    async def close(self, sr_id: str, *, note: str, correlation_id: str) -> None: ...


def _observed(request: ServiceRequest) -> Observed:
    return Observed(
        sr_id=request.id or "",
        status=request.status.value,
        notes=tuple(note.text for note in request.notes),
    )


class PartnerCenterServiceRequests(LazyPartnerCenterPort):
    """``ServiceRequests`` through the Partner Center adapter."""

    async def create(
        self, payload: ServiceRequestPayload, *, idempotency_key: str, correlation_id: str
    ) -> Observed:
        request = ServiceRequest(
            title=payload.title,
            description=payload.description,
            severity=severity_from_service_request(payload.severity),
            support_topic_id=payload.support_topic_id,
            product_name=payload.product_name,
            country_code=payload.country_code,
        )
        pc = await self._pc()
        created = await pc.create_service_request(
            request, correlation_id=correlation_id, idempotency_key=idempotency_key
        )
        return _observed(created)

    async def get(self, sr_id: str, *, correlation_id: str) -> Observed:
        pc = await self._pc()
        return _observed(await pc.get_service_request(sr_id, correlation_id=correlation_id))

    async def close(self, sr_id: str, *, note: str, correlation_id: str) -> None:
        pc = await self._pc()
        await pc.update_service_request(
            sr_id, correlation_id=correlation_id, status=ServiceRequestStatus.CLOSED, note=note
        )
