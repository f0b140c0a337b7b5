"""A real single-node Apache Kafka (KRaft) on 127.0.0.1, assembled from Maven Central jars.

Used by the test fixture, the demo and ``hub kafka start``. One broker per data directory: a
second start finds the running one and returns it; a stale directory or a taken port is an
error that says what to do. ``secure=True`` runs it with SASL/SCRAM and ACLs enforced.
The jar fetch, port checks, storage format, JVM command line and readiness wait are public:
``hub/ops/local_cluster.py`` runs several nodes with them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import fcntl
import json
import re
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from pydantic import SecretStr

from hub.connectors.kafka_auth import SCRAM_SHA_512, KafkaAuth, KafkaTls, client_kwargs
from hub.errors import ConfigError
from hub.ops.local_service import (
    Progress,
    fetch_once,
    kill,
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
from hub.ops.local_tls import TlsFiles, ensure_broker_tls
from hub.ops.paths import cache_dir, ops_dir

_STATE_FILE = "broker.json"
_SECRETS_FILE = "secrets.json"
# The broker's own principals in secure mode; super users beside the hub's.
CONTROLLER_USER = "controller"
BROKER_USER = "broker"
# What StorageTool's --add-scram value syntax and the JAAS quoting can carry unescaped.
_SCRAM_NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_SCRAM_PASSWORD = re.compile(r"^[A-Za-z0-9._~+/@#%^*()!-]{8,256}$")
_CLUSTER_ID_FILE = "cluster-id"


@dataclass(frozen=True)
class BrokerHandle:
    """Where a running local broker is, and how it was started."""

    bootstrap: str
    port: int
    controller_port: int
    pid: int
    data_dir: str
    log_file: str
    kafka_version: str
    # SASL_PLAINTEXT when started with secure=True: clients need SCRAM credentials; SASL_SSL
    # with tls=True too, and clients trust ``ca_file``.
    security_protocol: str = "PLAINTEXT"
    ca_file: str | None = None


def kafka_version() -> str:
    """The Kafka version pinned in ``ops/kafka/pom.xml``."""
    text = (ops_dir() / "kafka" / "pom.xml").read_text(encoding="utf-8")
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", text)
    if not match:
        raise ConfigError("ops/kafka/pom.xml does not pin <kafka.version>")
    return match.group(1).strip()


def jar_dir() -> Path:
    return cache_dir() / f"kafka-{kafka_version()}" / "libs"


def fetch_jars(progress: Progress = quiet) -> Path:
    """Download the broker's classpath once into the cache; later calls return at once."""
    target = jar_dir()

    def fill(staging: Path) -> None:
        hint = "install Maven (Debian: apt-get install maven) to fetch the Kafka jars"
        mvn = require("mvn", hint)
        progress(f"fetching Apache Kafka {kafka_version()} jars from Maven Central into {target}")
        pom = str(ops_dir() / "kafka" / "pom.xml")
        failed = maven(
            mvn, ["-f", pom, "dependency:copy-dependencies", f"-DoutputDirectory={staging}"]
        )
        if failed is not None:
            raise ConfigError(f"maven could not fetch the Kafka jars {failed}")
        if not any(staging.glob("kafka_2.13-*.jar")):
            raise ConfigError(f"maven finished but {staging} holds no kafka_2.13 jar")

    if (target / ".complete").is_file():
        return target
    fetch_once(target, kafka_version(), fill)
    progress(f"{len(list(target.glob('*.jar')))} jars ready")
    return target


def port_in_use(port: int) -> bool:
    """True when something on 127.0.0.1 holds ``port`` (a broker would fail to bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def require_free_ports(ports: Mapping[str, int], hint: str) -> None:
    """Refuse before any JVM starts: a broker that cannot bind dies with a Java stack trace.

    ``ports`` maps what each port is for ("port", "node 2's controller port") to its number.
    """
    for name, value in ports.items():
        if port_in_use(value):
            raise ConfigError(
                f"{name} {value} on 127.0.0.1 is already in use by another process; {hint}"
            )


def is_our_broker(pid: int, marker: Path) -> bool:
    """True when ``pid`` is a Kafka broker whose command line names ``marker`` (its data dir or
    properties file): a pid from a stale state file may belong to some other process by now."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return pid_alive(pid)
    return "kafka.Kafka" in cmdline and str(marker) in cmdline


@contextlib.contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir``'s lock: two starts racing on one directory would format it twice."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def broker_status(data_dir: Path) -> BrokerHandle | None:
    """The broker running from ``data_dir``, or None (a stale state file is removed)."""
    return read_state(
        data_dir / _STATE_FILE,
        BrokerHandle,
        lambda handle: pid_alive(handle.pid) and is_our_broker(handle.pid, data_dir),
    )


def _check_data_dir(data_dir: Path, fresh: bool) -> str:
    """Return the cluster id to format with; refuse a directory some other cluster owns."""
    return cluster_id_for(data_dir, [data_dir / "data"], fresh)


def cluster_id_for(root: Path, log_dirs: Sequence[Path], fresh: bool) -> str:
    """The cluster id every log dir under ``root`` is (or will be) formatted with.

    Kept in ``root/cluster-id`` so a restart formats nothing new; a log dir this launcher did
    not format, or one formatted for another cluster, is refused (``fresh`` wipes them first).
    """
    id_file = root / _CLUSTER_ID_FILE
    if fresh:
        for log_dir in log_dirs:
            shutil.rmtree(log_dir, ignore_errors=True)
        id_file.unlink(missing_ok=True)
    known = id_file.read_text(encoding="utf-8").strip() if id_file.is_file() else None
    for log_dir in log_dirs:
        meta = log_dir / "meta.properties"
        if not meta.is_file():
            continue
        if known is None:
            raise ConfigError(
                f"{log_dir} holds Kafka data that this launcher did not create; "
                "start with --fresh to wipe it, or choose another --data-dir"
            )
        found = re.search(r"^cluster\.id=(.+)$", meta.read_text(encoding="utf-8"), re.M)
        if found and found.group(1).strip() != known:
            raise ConfigError(
                f"{log_dir} belongs to cluster {found.group(1).strip()}, not {known}: "
                "the directory is stale; start with --fresh to wipe it"
            )
    if known is not None:
        return known
    cluster_id = _new_cluster_id()
    id_file.write_text(cluster_id, encoding="utf-8")
    return cluster_id


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes in base64url, never starting with '-'."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


async def _live_brokers(bootstrap: str, auth: KafkaAuth | None) -> set[int] | None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=3000, **client_kwargs(auth)
    )
    try:
        await admin.start()
        await admin.list_topics()
        described = await admin.describe_cluster()
        return {int(broker["node_id"]) for broker in described["brokers"]}
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def live_brokers(bootstrap: str, auth: KafkaAuth | None = None) -> set[int] | None:
    """The broker ids an admin client sees in the cluster's metadata (fenced brokers are left
    out), or None while it cannot even list topics. Runs in its own thread and event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _live_brokers(bootstrap, auth)).result()


def admin_answers(bootstrap: str, auth: KafkaAuth | None = None) -> bool:
    """True when an admin client can list topics (runs in its own thread and event loop)."""
    return live_brokers(bootstrap, auth) is not None


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_ready(
    procs: Mapping[Path, subprocess.Popen[bytes]],
    ports: Sequence[int],
    ready: Callable[[], bool],
    what: str,
    timeout_s: float,
) -> None:
    """Wait until every port in ``ports`` answers and ``ready()`` holds.

    ``procs`` maps each starting broker's directory to its process: one that exits fails the
    wait at once with its log's last lines, rather than after the timeout. On timeout they are
    all terminated, so a failed start leaves nothing behind.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for node_dir, proc in procs.items():
            if proc.poll() is not None:
                raise ConfigError(
                    f"the broker in {node_dir} exited with code {proc.returncode} while "
                    f"starting; last lines of {node_dir / 'logs' / 'broker.log'}:\n"
                    f"{tail(node_dir / 'logs' / 'broker.log')}\n{tail(node_dir / 'broker.out')}"
                )
        if all(_port_answers(port) for port in ports) and ready():
            return
        time.sleep(0.5)
    for proc in procs.values():
        proc.terminate()
    logs = "\n".join(f"{tail(node_dir / 'logs' / 'broker.log')}" for node_dir in procs)
    raise ConfigError(f"{what} did not answer within {timeout_s:.0f}s; log:\n{logs}")


@dataclass(frozen=True)
class _Secure:
    """Secure mode's inputs: the hub's super user and every SCRAM user to create."""

    super_user: str
    users: Mapping[str, SecretStr]
    broker_password: str
    controller_password: str
    tls: TlsFiles | None = None

    @property
    def security_protocol(self) -> str:
        return "SASL_PLAINTEXT" if self.tls is None else "SASL_SSL"

    def auth(self) -> KafkaAuth:
        return KafkaAuth(
            self.super_user,
            self.users[self.super_user],
            security_protocol=self.security_protocol,
            tls=None if self.tls is None else KafkaTls(cafile=self.tls.ca_file),
        )

    def add_scram_args(self) -> list[str]:
        users = {BROKER_USER: self.broker_password} | {
            name: password.get_secret_value() for name, password in self.users.items()
        }
        args: list[str] = []
        for name, password in sorted(users.items()):
            args += ["--add-scram", f"{SCRAM_SHA_512}=[name={name},password={password}]"]
        return args


def _broker_secrets(data_dir: Path) -> dict[str, str]:
    """The broker's and controller's own passwords: made once, reused on every restart."""
    path = data_dir / _SECRETS_FILE
    if path.is_file():
        found: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return found
    made = {name: secrets.token_urlsafe(24) for name in (BROKER_USER, CONTROLLER_USER)}
    path.touch(mode=0o600)
    path.write_text(json.dumps(made), encoding="utf-8")
    return made


def _secure_options(
    data_dir: Path, super_user: str, users: Mapping[str, SecretStr] | None, tls: bool = False
) -> _Secure:
    users = dict(users or {})
    if super_user not in users:
        raise ConfigError(
            f"secure mode needs a SCRAM password for the hub's own user {super_user!r} "
            "(HUB_KAFKA_SASL_USERNAME / HUB_KAFKA_SASL_PASSWORD)"
        )
    for name, password in users.items():
        if name in (BROKER_USER, CONTROLLER_USER) or not _SCRAM_NAME.fullmatch(name):
            raise ConfigError(f"{name!r} cannot be a SCRAM user name here")
        if not _SCRAM_PASSWORD.fullmatch(password.get_secret_value()):
            raise ConfigError(
                f"the password of {name!r} must be 8-256 characters of "
                "A-Z a-z 0-9 . _ ~ + / @ # % ^ * ( ) ! - (no commas, brackets or quotes)"
            )
    own = _broker_secrets(data_dir)
    files = ensure_broker_tls(data_dir) if tls else None
    return _Secure(super_user, users, own[BROKER_USER], own[CONTROLLER_USER], files)


def _merge_properties(base: str, overlay: str, note: str, drop: Collection[str] = ()) -> str:
    """``base`` with each key the overlay sets replaced in place, new keys appended after
    ``note`` (a comment line), and the keys in ``drop`` removed."""
    wanted: dict[str, str] = {}
    for line in overlay.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            wanted[key.strip()] = value
    merged: list[str] = []
    for line in base.splitlines():
        key = line.partition("=")[0].strip()
        if line.lstrip().startswith("#"):
            merged.append(line)
        elif key in drop:
            continue
        elif key in wanted:
            merged.append(f"{key}={wanted.pop(key)}")
        else:
            merged.append(line)
    merged.append(f"# {note}")
    merged += [f"{key}={value}" for key, value in wanted.items()]
    return "\n".join(merged) + "\n"


def base_properties(port: int, controller_port: int, log_dir: Path) -> str:
    """The single-node ``server.properties`` every local broker starts from."""
    base = Template((ops_dir() / "kafka" / "server.properties.template").read_text())
    return base.substitute(port=port, controller_port=controller_port, log_dir=log_dir)


def overlay_properties(
    base: str, template: str, values: Mapping[str, object], drop: Collection[str] = ()
) -> str:
    """``base`` with the keys of ``ops/kafka/<template>`` (filled from ``values``) replacing
    its own; the template's header says why each key differs."""
    overlay = Template((ops_dir() / "kafka" / template).read_text())
    note = f"{template.split('.', 1)[0]} mode: see ops/kafka/{template} for why"
    return _merge_properties(base, overlay.substitute(values), note, drop)


def _render_properties(
    port: int, controller_port: int, log_dir: Path, secure: _Secure | None
) -> str:
    text = base_properties(port, controller_port, log_dir)
    if secure is None:
        return text
    text = overlay_properties(
        text,
        "secure.properties.template",
        {
            "port": port,
            "controller_port": controller_port,
            "broker_user": BROKER_USER,
            "broker_password": secure.broker_password,
            "controller_user": CONTROLLER_USER,
            "controller_password": secure.controller_password,
            "super_user": secure.super_user,
        },
    )
    if secure.tls is None:
        return text
    return overlay_properties(
        text,
        "tls.properties.template",
        {"keystore": secure.tls.keystore, "ca_file": secure.tls.ca_file},
    )


def broker_argv(
    java: str, jars: Path, props: Path, log_dir: Path, *, min_heap_mb: int, max_heap_mb: int
) -> list[str]:
    """The broker's JVM command line. Always an explicit heap: the start scripts' 1G default
    times several brokers is more than a shared development machine should give."""
    return [
        java,
        f"-Xms{min_heap_mb}m",
        f"-Xmx{max_heap_mb}m",
        "-XX:+UseG1GC",
        f"-Dkafka.logs.dir={log_dir}",
        f"-Dlog4j2.configurationFile={ops_dir() / 'kafka' / 'log4j2.yaml'}",
        "-cp",
        f"{jars}/*",
        "kafka.Kafka",
        str(props),
    ]


def format_storage(
    java: str,
    jars: Path,
    props: Path,
    cluster_id: str,
    *,
    standalone: bool,
    extra: Sequence[str] = (),
) -> None:
    """Format the log dir ``props`` names for ``cluster_id`` (``-g``: a formatted one is kept).

    ``standalone`` for a lone node bootstrapping its own dynamic quorum; a static
    ``controller.quorum.voters`` set needs no flag. Its log goes beside the properties file.
    """
    log_dir = props.parent / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    fmt = subprocess.run(
        [
            java,
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={ops_dir() / 'kafka' / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={log_dir}",
            "-cp",
            f"{jars}/*",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props),
            *(["--standalone"] if standalone else []),
            "-g",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise ConfigError(
            f"formatting KRaft storage in {props.parent / 'data'} failed:\n"
            f"{(fmt.stdout + fmt.stderr).strip()[-2000:]}\n"
            "if the directory is stale, start with --fresh"
        )


def _refuse_if_cluster_runs(data_dir: Path) -> None:
    # Imported here: the cluster launcher builds on this module.
    from hub.ops.local_cluster import cluster_status

    cluster = cluster_status(data_dir)
    if cluster is not None:
        raise ConfigError(
            f"a {len(cluster.nodes)}-node cluster runs from {data_dir} ({cluster.bootstrap}): "
            "use it (--bootstrap), or stop it first with: hub kafka stop --data-dir "
            f"{data_dir}"
        )


JAVA_HINT = "install a Java 17+ runtime (Debian: openjdk-17-jre-headless)"


def start_broker(
    data_dir: Path,
    *,
    port: int | None = None,
    controller_port: int | None = None,
    fresh: bool = False,
    heap_mb: int = 512,
    die_with_parent: bool = False,
    timeout_s: float = 90.0,
    progress: Progress = quiet,
    secure: bool = False,
    scram_users: Mapping[str, SecretStr] | None = None,
    super_user: str = "hub",
    tls: bool = False,
) -> BrokerHandle:
    """Start (or find) the broker for ``data_dir`` and return once an admin client answers.

    ``secure=True``: a SASL_PLAINTEXT listener with SCRAM-SHA-512 and the StandardAuthorizer
    denying what no ACL allows. ``scram_users`` (name -> password, ``super_user`` among them)
    are created when the storage is first formatted; ``super_user`` may do everything.
    ``tls=True`` (with ``secure``): the listener is SASL_SSL, its certificate signed by a CA
    made once in ``data_dir/tls``; the handle's ``ca_file`` is what clients trust.
    """
    if tls and not secure:
        raise ConfigError("--tls needs --secure: the TLS listener authenticates with SCRAM")
    data_dir = data_dir.resolve()
    java = require("java", JAVA_HINT)
    jars = fetch_jars(progress)
    with locked(data_dir):
        running = broker_status(data_dir)
        if running is not None:
            progress(f"broker already running at {running.bootstrap} (pid {running.pid})")
            if secure != (running.security_protocol != "PLAINTEXT"):
                raise ConfigError(
                    f"the broker running from {data_dir} was started "
                    f"{'with' if not secure else 'without'} --secure; stop it first"
                )
            if secure and tls != (running.security_protocol == "SASL_SSL"):
                raise ConfigError(
                    f"the broker running from {data_dir} was started "
                    f"{'with' if not tls else 'without'} --tls; stop it first"
                )
            return running
        _refuse_if_cluster_runs(data_dir)
        port = port or free_port()
        controller_port = controller_port or free_port()
        require_free_ports(
            {"port": port, "controller port": controller_port},
            "choose another with --port/--controller-port or stop that process",
        )
        cluster_id = _check_data_dir(data_dir, fresh)
        options = _secure_options(data_dir, super_user, scram_users, tls) if secure else None
        log_dir = data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        props = data_dir / "server.properties"
        if options is not None:
            # It holds the broker's own passwords.
            props.touch(mode=0o600)
            props.chmod(0o600)
        props.write_text(
            _render_properties(port, controller_port, data_dir / "data", options),
            encoding="utf-8",
        )
        format_storage(
            java,
            jars,
            props,
            cluster_id,
            standalone=True,
            extra=options.add_scram_args() if options is not None else (),
        )
        progress(f"starting Kafka {kafka_version()} on 127.0.0.1:{port}")
        proc = spawn(
            broker_argv(java, jars, props, log_dir, min_heap_mb=heap_mb, max_heap_mb=heap_mb),
            data_dir / "broker.out",
            data_dir,
            die_with_parent,
        )
        bootstrap = f"127.0.0.1:{port}"
        auth = options.auth() if options is not None else None
        wait_ready(
            {data_dir: proc},
            [port],
            lambda: admin_answers(bootstrap, auth),
            f"the broker on {bootstrap}",
            timeout_s,
        )
        handle = BrokerHandle(
            bootstrap=bootstrap,
            port=port,
            controller_port=controller_port,
            pid=proc.pid,
            data_dir=str(data_dir),
            log_file=str(log_dir / "broker.log"),
            kafka_version=kafka_version(),
            security_protocol="PLAINTEXT" if options is None else options.security_protocol,
            ca_file=None if options is None or options.tls is None else str(options.tls.ca_file),
        )
        write_state(data_dir / _STATE_FILE, handle)
        progress(f"Kafka ready at {bootstrap} (pid {proc.pid}, data in {data_dir})")
        return handle


def stop_broker(data_dir: Path, *, timeout_s: float = 30.0, progress: Progress = quiet) -> bool:
    """Stop the broker of ``data_dir`` cleanly (SIGTERM, then SIGKILL). False if none ran."""
    data_dir = data_dir.resolve()
    handle = broker_status(data_dir)
    if handle is None:
        return False
    progress(f"stopping Kafka at {handle.bootstrap} (pid {handle.pid})")
    stop(handle.pid, timeout_s, lambda: progress("broker did not stop in time; killing it"))
    (data_dir / _STATE_FILE).unlink(missing_ok=True)
    return True


def kill_broker(data_dir: Path) -> None:
    """SIGKILL the broker (crash and restart tests); its state file stays for a restart."""
    handle = broker_status(data_dir.resolve())
    if handle is None:
        return
    kill(handle.pid)


def add_tls_option(start: argparse.ArgumentParser) -> None:
    """``hub kafka start --tls``: with ``--secure``, a SASL_SSL listener (handled by
    ``start_broker(tls=...)``)."""
    start.add_argument(
        "--tls",
        action="store_true",
        help="with --secure: SASL_SSL, a certificate signed by a CA made in <data-dir>/tls "
        "(trust it with HUB_KAFKA_SSL_CAFILE=<data-dir>/tls/ca.pem and "
        "HUB_KAFKA_SECURITY_PROTOCOL=SASL_SSL)",
    )
