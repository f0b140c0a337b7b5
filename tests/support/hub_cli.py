"""The ``hub`` command as a user types it: a child process with only ``HUB_*`` settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def user_env(state_dir: Path, **hub: str) -> dict[str, str]:
    """The environment of someone running ``hub``: no inherited ``HUB_*``/``KAFKA_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "KAFKA_"))}
    return env | {"HUB_STATE_DIR": str(state_dir)} | {f"HUB_{k.upper()}": v for k, v in hub.items()}


def hub(
    *args: str, env: Mapping[str, str], timeout_s: float = 180.0
) -> subprocess.CompletedProcess[str]:
    """Run ``hub ARGS`` to the end; its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
