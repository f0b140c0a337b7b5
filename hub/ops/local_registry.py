"""A real schema registry on 127.0.0.1: Apicurio Registry from Maven Central, Confluent API.

Same shape as the local broker: fetched once into the cache, one registry per data directory,
a second start returns the running one, stop is clean. Its default compatibility level is
``FULL_TRANSITIVE``, as `hub schemas register` sets on each of the hub's subjects.
"""

from __future__ import annotations

import re
import shutil
import tarfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hub.connectors.schema_registry import COMPATIBILITY, SchemaRegistryClient
from hub.errors import ConfigError
from hub.ops.local_service import (
    Progress,
    fetch_once,
    maven,
    pid_alive,
    quiet,
    read_state,
    require,
    spawn,
    stop,
    tail,
    write_state,
)
from hub.ops.local_service import free_port as free_port
from hub.ops.paths import cache_dir, ops_dir

CCOMPAT_PATH = "/apis/ccompat/v7"
_STATE_FILE = "registry.json"


@dataclass(frozen=True)
class RegistryHandle:
    url: str  # the Confluent-compatible base URL (ends in /apis/ccompat/v7)
    port: int
    pid: int
    data_dir: str
    log_file: str


def registry_version() -> str:
    text = (ops_dir() / "registry" / "registry.properties").read_text(encoding="utf-8")
    match = re.search(r"^apicurio\.version=(\S+)$", text, re.M)
    if not match:
        raise ConfigError("ops/registry/registry.properties does not pin apicurio.version")
    return match.group(1).strip()


def fetch_registry(progress: Progress = quiet) -> Path:
    """Download and unpack the registry once; return the directory holding its runner jar."""

    def fill(staging: Path) -> None:
        mvn = require("mvn", "install Maven (Debian: apt-get install maven)")
        progress(f"fetching Apicurio Registry {registry_version()} from Maven Central (~110 MB)")
        failed = maven(
            mvn,
            [
                "dependency:copy",
                f"-Dartifact=io.apicurio:apicurio-registry-app:{registry_version()}:tar.gz:all",
                f"-DoutputDirectory={staging / 'download'}",
            ],
        )
        archives = list((staging / "download").glob("*.tar.gz"))
        if failed is not None or not archives:
            why = failed or "(no archive)"
            raise ConfigError(f"maven could not fetch the schema registry {why}")
        with tarfile.open(archives[0]) as archive:
            archive.extractall(staging, filter="data")
        shutil.rmtree(staging / "download")
        if not list(staging.glob("*-runner.jar")):
            raise ConfigError(f"the registry archive holds no runner jar ({archives[0].name})")

    return fetch_once(cache_dir() / f"apicurio-{registry_version()}", registry_version(), fill)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/subjects", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def registry_status(data_dir: Path) -> RegistryHandle | None:
    return read_state(data_dir / _STATE_FILE, RegistryHandle, lambda h: pid_alive(h.pid))


def start_registry(
    data_dir: Path,
    *,
    port: int | None = None,
    die_with_parent: bool = False,
    timeout_s: float = 120.0,
    progress: Progress = quiet,
) -> RegistryHandle:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    running = registry_status(data_dir)
    if running is not None:
        progress(f"schema registry already running at {running.url}")
        return running
    java = require("java", "install a Java 17+ runtime (Debian: openjdk-17-jre-headless)")
    home = fetch_registry(progress)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}{CCOMPAT_PATH}"
    if _answers(url):
        raise ConfigError(f"port {port} already answers as a registry; choose another --port")
    log = data_dir / "registry.log"
    jar = next(home.glob("*-runner.jar"))
    proc = spawn(
        [
            java,
            "-Xms128m",
            "-Xmx512m",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={port}",
            "-Dquarkus.log.level=WARN",
            "-jar",
            str(jar),
        ],
        log,
        data_dir,
        die_with_parent,
    )
    progress(f"starting Apicurio Registry {registry_version()} on 127.0.0.1:{port}")
    deadline = time.monotonic() + timeout_s
    while not _answers(url):
        if proc.poll() is not None:
            raise ConfigError(f"the registry exited with code {proc.returncode}:\n{tail(log)}")
        if time.monotonic() > deadline:
            proc.terminate()
            raise ConfigError(f"the registry did not answer within {timeout_s:.0f}s:\n{tail(log)}")
        time.sleep(0.5)
    # Subjects the hub does not register itself (a partner's serializer auto-registering one)
    # get the same guard as the hub's own: FULL_TRANSITIVE unless they say otherwise.
    SchemaRegistryClient(url).set_default_compatibility(COMPATIBILITY)
    handle = RegistryHandle(url, port, proc.pid, str(data_dir), str(log))
    write_state(data_dir / _STATE_FILE, handle)
    progress(f"schema registry ready at {url}")
    return handle


def stop_registry(data_dir: Path, *, timeout_s: float = 30.0, progress: Progress = quiet) -> bool:
    handle = registry_status(data_dir.resolve())
    if handle is None:
        return False
    progress(f"stopping the schema registry at {handle.url}")
    stop(handle.pid, timeout_s)
    (data_dir.resolve() / _STATE_FILE).unlink(missing_ok=True)
    return True
