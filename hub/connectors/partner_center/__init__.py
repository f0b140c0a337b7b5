"""Microsoft Partner Center: the async adapter (the simulator lives in hub.simulator)."""

from hub.connectors.partner_center.client import PartnerCenterClient, nce_line
from hub.connectors.partner_center.config import PartnerCenterConfig
from hub.connectors.partner_center.errors import ErrorCode, PartnerCenterError
from hub.connectors.partner_center.operations import Operation

__all__ = [
    "ErrorCode",
    "Operation",
    "PartnerCenterClient",
    "PartnerCenterConfig",
    "PartnerCenterError",
    "nce_line",
]
