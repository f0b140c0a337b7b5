"""The order intake's side of consumption: accrued usage moves the reseller's credit exposure.

Called from the intake's exposure handler (one line) for each ``ConsumptionAccrued`` on
``hub.consumption.accruals`` (keyed by reseller, like the intake's state): applied once per
event id, so a redelivery moves nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hub.domain.credit import apply_consumption
from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.schemas.events.consumption import ConsumptionAccrued

if TYPE_CHECKING:
    from hub.streams.orders.state import IntakeState


def accrue_consumption(state: IntakeState, event: ConsumptionAccrued) -> Sequence[Emit]:
    applied = f"{event.reseller_id}|{event.event_id}"
    if applied in state.applied:
        return ()
    exposure = state.exposure_of(event.reseller_id, event.currency)
    if exposure.currency != event.currency:
        raise ValidationFailed(
            "currency",
            event.currency,
            f"the exposure of {event.reseller_id} is kept in {exposure.currency}",
        )
    state.put_exposure(apply_consumption(exposure, event.delta_minor))
    state.applied[applied] = 1
    return ()
