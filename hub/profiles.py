"""Named settings for the ``hub`` command, as rpk's profiles: ``hub --profile staging ...``.

A TOML file of tables, one per profile, whose keys are ``Settings`` fields (the ``HUB_``
variables without their prefix, lower case)::

    [staging]
    kafka_bootstrap_servers = "kafka.staging.example:9093"
    kafka_security_protocol = "SASL_SSL"

The file is ``$HUB_PROFILES_FILE``, else ``$XDG_CONFIG_HOME/hub/profiles.toml`` (by default
``~/.config/hub/profiles.toml``); the profile is ``--profile NAME``, else ``$HUB_PROFILE``.
What wins: a command's flags (``--bootstrap``), then ``HUB_*`` variables, then the profile,
then the defaults.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.settings import Settings

PROFILE_ENV = "HUB_PROFILE"
PROFILES_FILE_ENV = "HUB_PROFILES_FILE"


def profiles_file(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    given = env.get(PROFILES_FILE_ENV)
    if given:
        return Path(given).expanduser()
    config_home = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "hub" / "profiles.toml"


def read_profiles(path: Path) -> dict[str, dict[str, Any]]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"no profiles file at {path}: create it (one [name] table per profile) or set "
            f"{PROFILES_FILE_ENV}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    bad = sorted(name for name, table in doc.items() if not isinstance(table, dict))
    if bad:
        raise ConfigError(f"{path}: {', '.join(bad)} must be [tables] of settings")
    return doc


def profile_values(name: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings profile ``name`` gives, less those a ``HUB_*`` variable sets."""
    env = os.environ if environ is None else environ
    path = profiles_file(env)
    profiles = read_profiles(path)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"no profile {name!r} in {path} (profiles there: {known})")
    fields = Settings.model_fields
    values: dict[str, Any] = {}
    for key, value in profiles[name].items():
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"profile {name!r} in {path}: {key!r} is no setting{hint}")
        if f"HUB_{key.upper()}" not in env:
            values[key] = value
    return values


def selected_profile(flag: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    return flag or env.get(PROFILE_ENV) or None
