"""Where the project's ops assets (ops/ beside the package) and the local caches live."""

from __future__ import annotations

import os
from pathlib import Path

from hub.errors import ConfigError


def ops_dir() -> Path:
    """The repository's ``ops/`` directory (override with ``HUB_OPS_DIR``)."""
    override = os.environ.get("HUB_OPS_DIR")
    path = Path(override) if override else Path(__file__).resolve().parents[2] / "ops"
    if not (path / "kafka" / "pom.xml").is_file():
        raise ConfigError(
            f"ops assets not found at {path}: run the hub from its source checkout "
            "(pip install -e .) or set HUB_OPS_DIR to the checkout's ops/ directory"
        )
    return path


def cache_dir() -> Path:
    """Downloaded artefacts shared by every checkout (override with ``HUB_CACHE_DIR``)."""
    override = os.environ.get("HUB_CACHE_DIR")
    base = Path(override) if override else Path.home() / ".cache" / "hub"
    base.mkdir(parents=True, exist_ok=True)
    return base
