"""An in-memory schema registry for codec tests (test helper, not a test)."""

from __future__ import annotations

from hub.errors import SchemaError
from hub.schemas.catalog import Contract


class MemoryResolver:
    """Hands out ids like a registry would: one per distinct schema text, from 1."""

    def __init__(self) -> None:
        self.texts: dict[int, str] = {}
        self.lookups = 0

    def add(self, text: str) -> int:
        for schema_id, known in self.texts.items():
            if known == text:
                return schema_id
        schema_id = len(self.texts) + 1
        self.texts[schema_id] = text
        return schema_id

    def id_for(self, contract: Contract) -> int:
        self.lookups += 1
        return self.add(contract.current.text)

    def schema_for(self, schema_id: int) -> str:
        try:
            return self.texts[schema_id]
        except KeyError:
            raise SchemaError(f"unknown schema id {schema_id}: not in the registry") from None
