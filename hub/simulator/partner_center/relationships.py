"""The simulator's relationship resources: customer agreements (MCA attestation) and GDAP
relationships, with admin calls that play the customer (approve a relationship, grant a role).

A relationship is created ``approvalPending``; ``POST /admin/gdap/{id}`` with
``{"status": "active"}`` plays the customer's admin approving it (``activatedDateTime`` is set
and ``endDateTime = activatedDateTime + duration``), and ``{"addRoles": [...]}`` grants roles.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.errors import ErrorCode
from hub.connectors.partner_center.operations import Operation
from hub.connectors.partner_center.relationships import (
    MCA_TYPE,
    Agreement,
    DelegatedAdminRelationship,
    UnifiedRole,
)
from hub.connectors.partner_center.transport import IDEMPOTENCY_HEADER
from hub.simulator.partner_center.errors import SimError
from hub.simulator.partner_center.state import SimulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)
GDAP_PATH = "/v1/tenantRelationships/delegatedAdminRelationships"
_DAYS = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)D)?$")


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        text=wire_json.dumps(payload), status=status, content_type="application/json"
    )


async def _body(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(wire_json.loads(await request.read()))
    except (ValueError, ValidationError) as exc:
        raise SimError(400, ErrorCode.BAD_REQUEST, f"request body is not valid: {exc}") from exc


def _days(duration: str) -> int:
    match = _DAYS.fullmatch(duration)
    if match is None or duration == "P":
        raise SimError(400, ErrorCode.BAD_REQUEST, f"duration {duration!r} is not ISO 8601")
    years, days = (int(g) if g else 0 for g in match.groups())
    total = years * 365 + days
    if not 1 <= total <= 730:
        raise SimError(400, ErrorCode.BAD_REQUEST, "duration must be between P1D and P2Y")
    return total


@dataclass
class Relationships:
    """Agreements by customer and GDAP relationships by id, beside the simulator's state."""

    state: SimulatorState
    agreements: dict[str, list[Agreement]] = field(default_factory=dict)
    gdap: dict[str, DelegatedAdminRelationship] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)

    def routes(self) -> list[tuple[str, str, Handler, Operation]]:
        agreements = "/v1/customers/{customer_id}/agreements"
        return [
            ("POST", agreements, self._create_agreement, Operation.CREATE_AGREEMENT),
            ("GET", agreements, self._list_agreements, Operation.LIST_AGREEMENTS),
            ("POST", GDAP_PATH, self._create_gdap, Operation.CREATE_GDAP_RELATIONSHIP),
            ("GET", GDAP_PATH, self._list_gdap, Operation.LIST_GDAP_RELATIONSHIPS),
        ]

    def admin_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/admin/gdap/{relationship_id}", self._admin_gdap)

    async def _create_agreement(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        self.state.customer(customer_id)
        agreement = await _body(request, Agreement)
        if agreement.type != MCA_TYPE:
            raise SimError(400, ErrorCode.BAD_REQUEST, f"agreement type {agreement.type!r}")
        if agreement.date_agreed > self.state.now():
            raise SimError(400, ErrorCode.BAD_REQUEST, "dateAgreed is in the future")
        kept = self.agreements.setdefault(customer_id, [])
        # Partner Center takes another confirmation only when the contact changed
        # (PartnerConfirmedAgreementAlreadyExists otherwise); a repeat answers what it has.
        for existing in kept:
            if existing.primary_contact == agreement.primary_contact:
                return _json(existing, 201)
        kept.append(agreement)
        return _json(agreement, 201)

    async def _list_agreements(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        self.state.customer(customer_id)
        kind = request.query.get("agreementType", MCA_TYPE)
        items = [a for a in self.agreements.get(customer_id, []) if a.type == kind]
        return _json({"totalCount": len(items), "items": items, "links": {}})

    async def _create_gdap(self, request: web.Request) -> web.Response:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and key in self._keys:
            return _json(self.gdap[self._keys[key]], 201)
        body = await _body(request, DelegatedAdminRelationship)
        self.state.customer(body.customer.tenant_id)
        _days(body.duration)
        if body.auto_extend_duration not in ("PT0S", "P0D", "P180D"):
            raise SimError(400, ErrorCode.BAD_REQUEST, "autoExtendDuration must be PT0S or P180D")
        created = body.model_copy(update={"id": str(uuid.uuid4()), "status": "approvalPending"})
        self.gdap[str(created.id)] = created
        if key is not None:
            self._keys[key] = str(created.id)
        return _json(created, 201)

    async def _list_gdap(self, request: web.Request) -> web.Response:
        tenant = request.query.get("customerTenantId")
        now = self.state.now()
        items = []
        for rel in self.gdap.values():
            if tenant is not None and rel.customer.tenant_id != tenant:
                continue
            if rel.status == "active" and rel.end_date_time and rel.end_date_time <= now:
                rel = rel.model_copy(update={"status": "expired"})
                self.gdap[str(rel.id)] = rel
            items.append(rel)
        return _json({"totalCount": len(items), "items": items, "links": {}})

    async def _admin_gdap(self, request: web.Request) -> web.Response:
        rel = self.gdap.get(request.match_info["relationship_id"])
        if rel is None:
            raise SimError.not_found(f"relationship {request.match_info['relationship_id']}")
        raw = await request.read()
        payload: dict[str, Any] = wire_json.loads(raw) if raw else {}
        update: dict[str, Any] = {}
        roles = [r.role_definition_id for r in rel.access_details.unified_roles]
        for role in payload.get("addRoles", []):
            if role not in roles:
                roles.append(str(role))
        access = rel.access_details.model_copy(
            update={"unified_roles": [UnifiedRole(role_definition_id=r) for r in roles]}
        )
        update["access_details"] = access
        status = payload.get("status")
        if status is not None:
            update["status"] = str(status)
            if status == "active" and rel.activated_date_time is None:
                now = self.state.now()
                update["activated_date_time"] = now
                update["end_date_time"] = now + timedelta(days=_days(rel.duration))
        changed = rel.model_copy(update=update)
        self.gdap[str(rel.id)] = changed
        return _json(changed)
