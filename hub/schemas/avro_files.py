"""Where the ``.avsc`` files live and how they are named: ``<event_snake>.v<N>.avsc``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

AVRO_DIR = Path(__file__).parent / "avro"
NAMESPACE = "hub.events"

_FILE = re.compile(r"^(?P<stem>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def snake(event_name: str) -> str:
    """``OrderRequested`` -> ``order_requested``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event_name).lower()


def file_name(event_name: str, version: int) -> str:
    return f"{snake(event_name)}.v{version}.avsc"


def versions(avro_dir: Path) -> dict[str, dict[int, Path]]:
    """Every ``.avsc`` in ``avro_dir`` grouped by event stem, then by version."""
    found: dict[str, dict[int, Path]] = {}
    for path in sorted(avro_dir.glob("*.avsc")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: schema files must be named <event>.v<N>.avsc")
        found.setdefault(match["stem"], {})[int(match["version"])] = path
    return found


def load(path: Path) -> dict[str, Any]:
    schema = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(schema, dict):
        raise ValueError(f"{path.name}: a contract must be an Avro record, got {type(schema)}")
    return schema
