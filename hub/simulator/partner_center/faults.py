"""Faults the simulator injects: latency, 429 bursts, 5xx, timeouts, lost responses, 409, 202.

Each fault fires for its next ``count`` matching requests (every operation when ``operation``
is empty) and is then spent; latency with no count stays until cleared.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FaultKind(StrEnum):
    LATENCY = "latency"
    THROTTLE = "throttle"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    LOSE_RESPONSE = "lose_response"
    CONFLICT = "conflict"
    ACCEPTED = "accepted"


class LostResponseMode(StrEnum):
    DROP = "drop"  # close the connection without answering
    SERVICE_UNAVAILABLE = "503"  # answer 503 as if nothing happened


class Fault(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, extra="forbid")

    kind: FaultKind
    count: int | None = Field(default=1, ge=1, description="None: until cleared")
    operation: str | None = None
    seconds: float = Field(default=0.0, ge=0, description="latency, or how long a timeout hangs")
    status: int = Field(default=503, ge=500, le=599, description="for server_error")
    retry_after: float = Field(default=1.0, ge=0, alias="retryAfter")
    mode: LostResponseMode = LostResponseMode.DROP

    def matches(self, operation: str) -> bool:
        return self.operation in (None, "", operation)


class FaultPlan:
    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._faults: list[Fault] = []
        for fault in faults or []:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        self._faults.append(fault.model_copy())

    def clear(self) -> None:
        self._faults.clear()

    def pending(self) -> list[Fault]:
        return [fault.model_copy() for fault in self._faults]

    def latency(self, operation: str) -> float:
        """Seconds of added latency for this request; spends counted latency faults."""
        total = 0.0
        for fault in self._faults:
            if fault.kind == FaultKind.LATENCY and fault.matches(operation):
                total += fault.seconds
                self._spend(fault)
        self._faults = [fault for fault in self._faults if fault.count != 0]
        return total

    def take(self, operation: str) -> Fault | None:
        """The first non-latency fault that applies to this request, spent by one."""
        for fault in self._faults:
            if fault.kind != FaultKind.LATENCY and fault.matches(operation):
                taken = fault.model_copy()
                self._spend(fault)
                self._faults = [f for f in self._faults if f.count != 0]
                return taken
        return None

    @staticmethod
    def _spend(fault: Fault) -> None:
        if fault.count is not None:
            fault.count -= 1
