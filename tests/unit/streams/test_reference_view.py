"""Reference lookups: parsed once per stored value, an update seen at once, on either store."""

from __future__ import annotations

import json
from typing import Any

from hub.streams.reference import ModelView


class RawStore:
    """What ``ModelView`` reads of faust's RocksDB store: encoded keys, stored bytes."""

    def __init__(self) -> None:
        self.rows: dict[bytes, bytes] = {}
        self.decoded = 0

    def _encode_key(self, key: str) -> bytes:
        return json.dumps(key).encode()

    def _get(self, key: bytes) -> bytes | None:
        return self.rows.get(key)

    def _decode_value(self, value: bytes) -> Any:
        self.decoded += 1
        return json.loads(value)


class Table(dict[str, Any]):
    def __init__(self, data: RawStore | None = None) -> None:
        super().__init__()
        if data is not None:
            self.data = data


def test_a_lookup_on_rocksdb_bytes_parses_once_and_sees_an_update() -> None:
    store = RawStore()
    parsed: list[Any] = []

    def parse(doc: Any) -> dict[str, Any]:
        parsed.append(doc)
        return dict(doc)

    view = ModelView(Table(store), parse)
    store.rows[b'"r1"'] = b'{"limit": 5}'
    assert view["r1"] == {"limit": 5}
    assert view["r1"] == {"limit": 5}
    assert "r1" in view
    assert "r2" not in view
    assert (len(parsed), store.decoded) == (1, 1)
    store.rows[b'"r1"'] = b'{"limit": 7}'  # the reference agent wrote a new profile
    assert view["r1"] == {"limit": 7}
    assert len(parsed) == 2
    assert view.get("r2") is None


def test_a_lookup_on_another_store_compares_documents() -> None:
    table = Table()
    table["r1"] = {"limit": 5}
    parsed: list[Any] = []
    view = ModelView(table, lambda doc: parsed.append(doc) or dict(doc))
    assert view["r1"] == view["r1"] == {"limit": 5}
    assert len(parsed) == 1
    table["r1"] = {"limit": 6}
    assert view["r1"] == {"limit": 6}
