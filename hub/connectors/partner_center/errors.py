"""Partner Center error bodies and their mapping onto the hub's ``ExternalServiceError``.

Microsoft answers ``{"code": 10001, "description": "...", "errorName": "..."}``; the code and
description are kept so a dead letter says exactly what Microsoft said.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import ExternalServiceError

SERVICE = "partner_center"


class ErrorCode(IntEnum):
    """Codes Microsoft documents (below 900000) and the simulator's own, which mark the same
    situations Microsoft reports only in prose (900000 and up)."""

    CATALOG_ITEM_ID_IS_NOT_VALID = 10001
    QUOTA_NOT_AVAILABLE = 10002
    INVENTORY_NOT_AVAILABLE = 10003
    BAD_REQUEST = 900400
    UNAUTHORIZED = 900401
    NOT_FOUND = 900404
    CONFLICT_RENEWAL_IN_PROGRESS = 900409
    TOO_MANY_REQUESTS = 900429
    SERVICE_UNAVAILABLE = 900503
    CANCELLATION_WINDOW_EXPIRED = 900701
    SEAT_REDUCTION_WINDOW_EXPIRED = 900702
    INVALID_STATUS_TRANSITION = 900703
    SUBSCRIPTION_NOT_MODIFIABLE = 900704
    PARTNER_ON_RECORD_REQUIRED = 900705
    CART_ALREADY_CHECKED_OUT = 900706


class ErrorBody(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="ignore")

    code: int
    description: str = ""
    error_name: str | None = Field(default=None, alias="errorName")


class PartnerCenterError(ExternalServiceError):
    """An ``ExternalServiceError`` that also carries Partner Center's error name and text."""

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status: int | None = None,
        code: str | None = None,
        error_name: str | None = None,
        description: str | None = None,
        retriable: bool = False,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(
            SERVICE,
            message,
            status=status,
            code=code,
            retriable=retriable,
            retry_after=retry_after,
        )
        self.operation = operation
        self.error_name = error_name
        self.description = description
        self.attempts = attempts


def parse_error_body(payload: Any) -> ErrorBody | None:
    try:
        return ErrorBody.model_validate(payload)
    except ValidationError:
        return None


def parse_retry_after(header: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not header:
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        reference = now or datetime.now(UTC)
        seconds = (when - reference).total_seconds()
    return max(0.0, seconds)


def is_retriable_status(status: int, *, conflict_is_transient: bool = False) -> bool:
    """429 and 5xx are transient; 409 only where Microsoft means "busy, try later"."""
    if status == 429 or status >= 500:
        return True
    return status == 409 and conflict_is_transient


def error_from_response(
    *,
    operation: str,
    status: int,
    payload: Any,
    retriable: bool,
    retry_after: float | None,
    attempts: int,
) -> PartnerCenterError:
    body = parse_error_body(payload)
    if body is None:
        return PartnerCenterError(
            f"{operation} answered HTTP {status}",
            operation=operation,
            status=status,
            retriable=retriable,
            retry_after=retry_after,
            attempts=attempts,
        )
    name = f" {body.error_name}" if body.error_name else ""
    return PartnerCenterError(
        f"{operation}:{name} {body.description}".rstrip(),
        operation=operation,
        status=status,
        code=str(body.code),
        error_name=body.error_name,
        description=body.description,
        retriable=retriable,
        retry_after=retry_after,
        attempts=attempts,
    )
