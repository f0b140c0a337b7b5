"""The error the simulator's state raises; the web layer turns it into Microsoft's error body."""

from __future__ import annotations

from hub.connectors.partner_center.errors import ErrorCode


class SimError(Exception):
    def __init__(self, status: int, code: ErrorCode, description: str) -> None:
        self.status = status
        self.code = code
        self.description = description
        super().__init__(f"{status} {code.name}: {description}")

    @classmethod
    def not_found(cls, what: str) -> SimError:
        return cls(404, ErrorCode.NOT_FOUND, f"{what} was not found")

    @property
    def error_name(self) -> str:
        return "".join(part.capitalize() for part in self.code.name.split("_"))

    def body(self) -> dict[str, object]:
        return {
            "code": int(self.code),
            "description": self.description,
            "errorName": self.error_name,
        }
