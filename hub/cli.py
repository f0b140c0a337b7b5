"""The ``hub`` command: run the hub, its local broker and its ops tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import SecretStr

from hub import __version__
from hub.cli_errors import EXIT_INTERRUPTED, collect_failed_clients, describe
from hub.commands import add_output_flag, arg_types, emit
from hub.errors import ConfigError
from hub.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]

DEFAULT_BROKER_PORT = 19092
DEFAULT_CONTROLLER_PORT = 19093


def _say(message: str) -> None:
    print(f"hub: {message}", file=sys.stderr, flush=True)


def _broker_dir(args: argparse.Namespace, settings: Settings) -> Path:
    given: str | None = getattr(args, "data_dir", None)
    return Path(given) if given else settings.state_dir / "kafka"


# --- hub kafka ... -------------------------------------------------------------------------


def _kafka_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from hub.ops import local_kafka

    path = local_kafka.fetch_jars(_say)
    print(path)
    return 0


def _refuse_other_port(args: argparse.Namespace, running_bootstrap: str, data_dir: Path) -> None:
    """A broker already runs from ``data_dir``: fine, unless another port was asked for."""
    asked: int | None = args.port
    running_port = int(running_bootstrap.split(",")[0].rsplit(":", 1)[1])
    if asked is not None and asked != running_port:
        raise ConfigError(
            f"--port {asked}: the broker of {data_dir} already runs at {running_bootstrap}; "
            f"use that, stop it first (hub kafka stop --data-dir {data_dir}), or start "
            "another with its own --data-dir"
        )
    if getattr(args, "fresh", False):
        raise ConfigError(
            f"--fresh: the broker of {data_dir} is running at {running_bootstrap}; stop it first "
            f"(hub kafka stop --data-dir {data_dir}), then start it with --fresh"
        )


def _running_bootstrap(data_dir: Path) -> str | None:
    from hub.ops import local_cluster, local_kafka

    cluster = local_cluster.cluster_status(data_dir.resolve())
    if cluster is not None:
        return cluster.bootstrap
    handle = local_kafka.broker_status(data_dir.resolve())
    return None if handle is None else handle.bootstrap


def _drop_worker_tables(settings: Settings) -> None:
    """After a fresh broker: every worker's tables belong to changelogs that are gone."""
    from hub.runtime.local_state import drop_all_tables

    tables = settings.state_dir / "tables"
    result = drop_all_tables(tables)
    if result.dropped:
        _say(f"dropped the workers' local tables in {tables} (their changelogs were wiped)")
    for slot in result.busy:
        _say(f"a worker still runs from {slot}: stop it; the broker it used is gone")


def _kafka_start(args: argparse.Namespace, settings: Settings) -> int:
    """Start the broker (or cluster) of the data directory, or find the one running there.

    A running one is used as it is, and said so; asked for another port than its own, or to be
    wiped (``--fresh``), it is refused rather than passed off as what was asked for.
    """
    from hub.ops import local_cluster, local_kafka

    data_dir = _broker_dir(args, settings)
    running = _running_bootstrap(data_dir)
    if running is not None:
        _refuse_other_port(args, running, data_dir.resolve())
    port = args.port if args.port is not None else DEFAULT_BROKER_PORT
    if args.tls and not args.secure:
        raise ConfigError("--tls goes with --secure (SASL_SSL: SCRAM users over TLS)")
    if args.tls and args.nodes != 1:
        raise ConfigError("--tls is for a single broker; the local cluster has no TLS mode")
    if args.nodes != 1:
        # For a running cluster: starts any node that is down.
        cluster = local_cluster.start_cluster(
            data_dir,
            nodes=args.nodes,
            port=port,
            controller_port=args.controller_port,
            fresh=args.fresh,
            progress=_say,
            secure=args.secure,
        )
        bootstrap, where = cluster.bootstrap, cluster.data_dir
    else:
        # For a running broker: only checks it runs as asked (--secure or not).
        handle = local_kafka.start_broker(
            data_dir,
            port=port,
            controller_port=args.controller_port,
            fresh=args.fresh,
            progress=_say if running is None else (lambda _: None),
            secure=args.secure,
            tls=args.tls,
            scram_users=_scram_users(args, settings) if args.secure else None,
            super_user=settings.kafka_sasl_username or "hub",
        )
        bootstrap, where = handle.bootstrap, handle.data_dir
        if args.tls and handle.ca_file is not None:
            _say(
                "trust it with: HUB_KAFKA_SECURITY_PROTOCOL=SASL_SSL "
                f"HUB_KAFKA_SSL_CAFILE={handle.ca_file}"
            )
    if args.fresh:
        _drop_worker_tables(settings)
    print(bootstrap)
    if running is not None:
        _say(f"a broker already runs from {where} at {bootstrap}: nothing new was started")
    else:
        _say(f"stop it with: hub kafka stop --data-dir {where}")
    return 0


def _scram_users(args: argparse.Namespace, settings: Settings) -> dict[str, SecretStr]:
    """The hub's SCRAM user from settings, plus any from ``--users-file`` (JSON name: password)."""
    import json

    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise ConfigError("--secure needs HUB_KAFKA_SASL_USERNAME and HUB_KAFKA_SASL_PASSWORD")
    users = {settings.kafka_sasl_username: settings.kafka_sasl_password}
    if args.users_file:
        listed = json.loads(Path(args.users_file).read_text(encoding="utf-8"))
        users |= {str(name): SecretStr(str(password)) for name, password in listed.items()}
    return users


def _kafka_stop(args: argparse.Namespace, settings: Settings) -> int:
    from hub.ops import local_cluster, local_kafka

    data_dir = _broker_dir(args, settings)
    if local_cluster.stop_cluster(data_dir, progress=_say):
        return 0
    if not local_kafka.stop_broker(data_dir, progress=_say):
        _say(f"no broker is running from {data_dir}")
    return 0


def _kafka_status(args: argparse.Namespace, settings: Settings) -> int:
    """One line for a single broker; for a cluster its bootstrap, then one line per node.
    Exit code 1 when nothing runs or a node of the cluster is down."""
    from hub.ops import local_cluster, local_kafka

    data_dir = _broker_dir(args, settings).resolve()
    cluster = local_cluster.cluster_status(data_dir)
    if cluster is not None:
        nodes = [
            {
                "node_id": node.node_id,
                "bootstrap": node.bootstrap,
                "pid": node.pid,
                "up": local_cluster.node_alive(node),
                "log": str(node.log_file),
            }
            for node in cluster.nodes
        ]
        lines = [f"{cluster.bootstrap} nodes={len(cluster.nodes)} kafka={cluster.kafka_version}"]
        for node in nodes:
            state = f"pid={node['pid']}" if node["up"] else "down"
            lines.append(f"  node {node['node_id']} {node['bootstrap']} {state} log={node['log']}")
        doc = {
            "running": True,
            "bootstrap": cluster.bootstrap,
            "kafka": cluster.kafka_version,
            "nodes": nodes,
        }
        emit(args, doc, "\n".join(lines))
        return 1 if not all(node["up"] for node in nodes) else 0
    handle = local_kafka.broker_status(data_dir)
    if handle is None:
        _say(f"no broker is running from {_broker_dir(args, settings)}")
        emit(args, {"running": False, "data_dir": str(data_dir)}, "")
        return 1
    doc = {
        "running": True,
        "bootstrap": handle.bootstrap,
        "pid": handle.pid,
        "kafka": handle.kafka_version,
        "log": str(handle.log_file),
    }
    text = f"{handle.bootstrap} pid={handle.pid} kafka={handle.kafka_version} log={handle.log_file}"
    emit(args, doc, text)
    return 0


# --- hub worker / hub run --------------------------------------------------------------------


# Set on the re-executed worker after a ConsistencyError, so a second one is not retried.
_REBUILT_ENV = "HUB_WORKER_TABLES_REBUILT"


def _prepare_tables(settings: Settings, cluster_id: str | None) -> None:
    """Drop the slot's tables when they cannot be trusted; say why in one line."""
    from hub.runtime.local_state import forget_other_cluster, open_local_state, stamp_cluster

    table_dir = settings.table_dir
    other = forget_other_cluster(table_dir, cluster_id)
    if other is not None:
        _say(
            f"the tables in {table_dir} came from another Kafka cluster ({other}; this one is "
            f"{cluster_id}): they are rebuilt from the changelogs"
        )
    # Tables of a run that did not stop cleanly may be ahead of their changelogs: rebuild.
    if open_local_state(table_dir) and other is None:
        _say("the previous run did not stop cleanly: tables are restored from their changelogs")
    stamp_cluster(table_dir, cluster_id)


def _rebuild_after_consistency_error(settings: Settings, reason: BaseException) -> None:
    """The tables hold offsets the changelogs never reached: drop them and start over.

    faust cannot be started twice in one process (its metrics register once), so the worker
    executes itself again with the same arguments; at most once.
    """
    from hub.runtime.local_state import drop_tables

    first_line = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
    if os.environ.get(_REBUILT_ENV):
        raise ConfigError(
            f"the tables in {settings.table_dir} are ahead of their changelogs even after a "
            f"rebuild ({first_line}): check that HUB_APP_ID and HUB_TOPIC_PREFIX name this "
            "hub's changelogs"
        )
    _say(
        f"the tables in {settings.table_dir} are ahead of their changelogs (the broker's data "
        f"was reset?): rebuilding them from the changelogs ({first_line})"
    )
    drop_tables(settings.table_dir)
    os.environ[_REBUILT_ENV] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - same argv


class _NoConsistencyTraceback(logging.Filter):
    """faust's crash on tables ahead of their changelogs in one line, not a traceback: the
    worker says what it does about it next (``_rebuild_after_consistency_error``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from faust.exceptions import ConsistencyError

        if record.exc_info and isinstance(record.exc_info[1], ConsistencyError):
            record.exc_info = None
            record.exc_text = None
        return True


def _run_worker(settings: Settings, loglevel: str) -> int:
    """Run the faust worker in the foreground until Ctrl-C or SIGTERM."""
    from faust.exceptions import ConsistencyError

    from hub.app import build_app
    from hub.connectors.kafka_admin import ensure_topics
    from hub.runtime.diagnostics import ReportingWorker
    from hub.runtime.local_state import claim_slot, close_local_state
    from hub.topic_plan import every_topic
    from hub.web_access import web_bind

    # Pages beyond the loopback without a token are refused before anything is opened.
    web_bind(settings)
    # Its own tables directory (and, unless set, web port) among workers sharing the state dir.
    slot = claim_slot(settings.app_table_dir, settings.worker_id)
    settings = settings.model_copy(update={"worker_id": slot.number})
    consistency: BaseException | None = None
    try:
        # Every topic the worker reads exists, as the catalogue says, before faust subscribes:
        # a topic created later would be ignored until the next metadata refresh, and a keyed
        # topic partitioned otherwise than the tables would put state on other partitions
        # than the messages that read it (refused, before anything runs).
        client_log = logging.getLogger("aiokafka")
        level = client_log.level
        client_log.setLevel(logging.CRITICAL)  # a broker not answering yet is said once below
        try:
            check = asyncio.run(
                ensure_topics(settings, every_topic(settings.catalog), progress=_say)
            )
        finally:
            client_log.setLevel(level)
        created = [c for c in check.changes if c.kind.value == "created"]
        if created:
            _say(f"created {len(created)} missing topic(s) of the catalogue")
        _prepare_tables(settings, check.cluster_id)
        app = build_app(settings)
        _say(
            f"worker {settings.worker_group} #{slot.number} on {settings.kafka_bootstrap_servers}; "
            f"tables in {settings.table_dir}; metrics at "
            f"http://{settings.worker_web_host}:{settings.web_port}/metrics"
        )
        worker = ReportingWorker(app, loglevel=loglevel, quiet=True)
        worker.log_format = settings.log_format
        worker.shutdown_grace_s = settings.shutdown_grace_s
        # faust's start-up spinner sets the root logger to DEBUG (it spins on every record), so
        # each debug call in faust, aiokafka and mode built a record only to drop it, per
        # message. Without it the root logger stays at ``loglevel``.
        worker.spinner = None
        logging.getLogger("faust.tables.recovery").addFilter(_NoConsistencyTraceback())
        code = 0
        try:
            worker.execute_from_commandline()
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        if code == 0:
            close_local_state(settings.table_dir)
        elif isinstance(worker.crash_reason, ConsistencyError):
            consistency = worker.crash_reason
    finally:
        slot.release()
    if consistency is not None:
        _rebuild_after_consistency_error(settings, consistency)
    return code


def _loglevel(args: argparse.Namespace, settings: Settings, default: str) -> str:
    """``--loglevel``, else ``HUB_LOG_LEVEL`` (or the profile's), else the command's default."""
    given: str | None = getattr(args, "loglevel", None)
    if given:
        return given
    return settings.log_level.lower() if "log_level" in settings.model_fields_set else default


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    return _run_worker(settings, _loglevel(args, settings, "info"))


# Which broker a `hub run` started, kept across the worker re-executing itself.
_RUN_OWNS_BROKER = "HUB_RUN_OWNS_BROKER"


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Start a local broker unless one is given, then the worker; stop what was started."""
    from hub.ops import local_kafka

    if args.bootstrap or "kafka_bootstrap_servers" in settings.model_fields_set:
        if args.bootstrap:
            settings = settings.model_copy(update={"kafka_bootstrap_servers": args.bootstrap})
        return _run_worker(settings, _loglevel(args, settings, "warning"))
    data_dir = _broker_dir(args, settings)
    already = local_kafka.broker_status(data_dir.resolve())
    if already is not None and os.environ.get(_RUN_OWNS_BROKER) == str(data_dir.resolve()):
        already = None  # this run started it, before re-executing itself
    elif already is not None:
        _refuse_other_port(args, already.bootstrap, data_dir.resolve())
    os.environ[_RUN_OWNS_BROKER] = "" if already is not None else str(data_dir.resolve())
    handle = local_kafka.start_broker(
        data_dir,
        port=args.port if args.port is not None else DEFAULT_BROKER_PORT,
        controller_port=args.controller_port,
        die_with_parent=True,
        progress=_say,
    )
    settings = settings.model_copy(update={"kafka_bootstrap_servers": handle.bootstrap})
    try:
        return _run_worker(settings, _loglevel(args, settings, "warning"))
    finally:
        if already is None:
            local_kafka.stop_broker(data_dir, progress=_say)
        else:
            _say(f"leaving the broker at {handle.bootstrap} running (it was not started here)")


def _sim_partner_center(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from hub.simulator.partner_center.server import load_catalog, run_simulator

    catalog = load_catalog(Path(args.reference)) if args.reference else None
    _say(f"Partner Center simulator on http://{args.host}:{args.port} (Ctrl-C stops it)")
    run_simulator(
        args.host,
        args.port,
        token=settings.partner_center_token.get_secret_value(),
        catalog=catalog,
    )
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    from pathlib import Path

    from hub.demo.runner import run_demo

    summary_json = Path(args.summary_json) if args.summary_json else None
    asyncio.run(
        run_demo(settings, bootstrap=args.bootstrap, serve=args.serve, summary_json=summary_json)
    )
    return 0


# --- parser ----------------------------------------------------------------------------------


LOGLEVELS = ("debug", "info", "warning", "error", "critical")


def _add_broker_args(parser: argparse.ArgumentParser, *, ports: bool = True) -> None:
    parser.add_argument("--data-dir", help="broker data directory (default: $HUB_STATE_DIR/kafka)")
    if ports:
        parser.add_argument(
            "--port",
            type=arg_types.port,
            help=f"the broker's client port (default: {DEFAULT_BROKER_PORT}); a broker already "
            "running from the data directory on another port is refused",
        )
        parser.add_argument(
            "--controller-port",
            type=arg_types.port,
            default=DEFAULT_CONTROLLER_PORT,
            help=f"the KRaft controller's port (default: {DEFAULT_CONTROLLER_PORT})",
        )


def _add_loglevel(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--loglevel",
        default=None,
        choices=LOGLEVELS,
        type=str.lower,
        help=f"how much the worker logs (default: HUB_LOG_LEVEL, else {default})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub",
        description="Kafka-native integration hub for a Microsoft CSP 2-Tier distributor.",
    )
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="named settings from the profiles file (default: $HUB_PROFILE; the file: "
        "$HUB_PROFILES_FILE, else ~/.config/hub/profiles.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="start a local Kafka broker (unless one is given) and a hub worker"
    )
    run.add_argument("--bootstrap", help="use this broker instead of starting one")
    _add_loglevel(run, "warning")
    _add_broker_args(run)
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo",
        help="the whole hub on a local broker, driven through a month of five resellers",
    )
    demo.add_argument("--bootstrap", help="use this broker (topics get a run prefix)")
    demo.add_argument("--serve", action="store_true", help="keep everything running afterwards")
    demo.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON")
    demo.set_defaults(handler=_demo)

    worker = commands.add_parser(
        "worker", help="run a hub worker against HUB_KAFKA_BOOTSTRAP_SERVERS"
    )
    _add_loglevel(worker, "info")
    worker.set_defaults(handler=_worker)

    sim = commands.add_parser("sim", help="local simulators of external systems")
    sims = sim.add_subparsers(dest="sim_command", required=True, metavar="SYSTEM")
    partner_center = sims.add_parser(
        "partner-center", help="a stateful Partner Center simulator with fault injection"
    )
    partner_center.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    partner_center.add_argument(
        "--port", type=arg_types.port, default=18080, help="port to listen on (default: 18080)"
    )
    partner_center.add_argument(
        "--reference",
        metavar="FILE",
        help="price per market currency from this reference file's catalogue and price lists",
    )
    partner_center.set_defaults(handler=_sim_partner_center)

    kafka = commands.add_parser("kafka", help="the local Apache Kafka broker built from Maven jars")
    kafka_commands = kafka.add_subparsers(dest="kafka_command", required=True, metavar="ACTION")
    fetch = kafka_commands.add_parser("fetch", help="download the broker's jars into the cache")
    fetch.set_defaults(handler=_kafka_fetch)
    start = kafka_commands.add_parser(
        "start",
        help="start the broker (or a cluster, --nodes 3) in the background",
        description="Start a local KRaft broker in the background and print its bootstrap. "
        "With --nodes 3: three broker+controller nodes, node n on --port + 2(n-1) and "
        "--controller-port + 2(n-1), replication 3 and min.insync.replicas 2; "
        "--secure is refused with --nodes 3 (secure mode runs one node).",
    )
    _add_broker_args(start)
    start.add_argument(
        "--nodes",
        type=int,
        choices=(1, 3),
        default=1,
        help="1 (default): one broker; 3: a three-node cluster (not with --secure)",
    )
    start.add_argument("--fresh", action="store_true", help="wipe the data directory first")
    start.add_argument(
        "--secure",
        action="store_true",
        help="SASL/SCRAM only, ACLs enforced (the hub's user from HUB_KAFKA_SASL_*); one node only",
    )
    start.add_argument(
        "--users-file",
        metavar="FILE",
        help="with --secure: JSON {user: password} of SCRAM users created at first format",
    )
    from hub.ops import local_kafka  # imported here, as every handler does: a fast --help

    local_kafka.add_tls_option(start)
    start.set_defaults(handler=_kafka_start)
    stop = kafka_commands.add_parser("stop", help="stop the broker (or every node) cleanly")
    _add_broker_args(stop, ports=False)
    stop.set_defaults(handler=_kafka_stop)
    status = kafka_commands.add_parser(
        "status", help="say whether the broker (or each node) runs, and where"
    )
    _add_broker_args(status, ports=False)
    add_output_flag(status)
    status.set_defaults(handler=_kafka_status)
    from hub.commands import billing, contracts, credits, docs, orders, security, support, webhooks

    for area in (contracts, orders, billing, support, credits, security, docs, webhooks):
        area.add_commands(commands)
    from hub.commands import consumption

    consumption.add_commands(commands)
    from hub.commands import incentives

    incentives.add_commands(commands)
    from hub.commands import renewals

    renewals.add_commands(commands)
    from hub.commands import customers

    customers.add_commands(commands)
    completion = commands.add_parser(
        "completion",
        help='print the shell completion script: eval "$(hub completion bash)"',
    )
    completion.add_argument("shell", choices=("bash", "zsh"))
    completion.set_defaults(handler=_completion)
    for path, leaf in _leaves(parser):
        _add_common_flags(path, leaf)
    return parser


# Commands that never talk to a Kafka broker of settings: no --bootstrap for them.
_NO_BOOTSTRAP = ("kafka", "sim", "completion")


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command that runs a handler, with its path of subcommand names."""
    found: list[tuple[tuple[str, ...], argparse.ArgumentParser]] = []
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(path, parser)]
    for name, child in subs[0].choices.items():
        found += _leaves(child, (*path, name))
    return found


def _add_common_flags(path: tuple[str, ...], leaf: argparse.ArgumentParser) -> None:
    """``--profile`` on every command and ``--bootstrap`` on those that talk to Kafka, after the
    command as scripts write them; neither is added where a command has its own."""
    taken = {option for action in leaf._actions for option in action.option_strings}
    if "--profile" not in taken:
        leaf.add_argument(
            "--profile", metavar="NAME", default=argparse.SUPPRESS, help="named settings"
        )
    if "--bootstrap" not in taken and path[0] not in _NO_BOOTSTRAP:
        leaf.add_argument(
            "--bootstrap",
            metavar="HOST:PORT[,...]",
            help="the Kafka broker(s), instead of HUB_KAFKA_BOOTSTRAP_SERVERS or the profile's",
        )


def _completion(args: argparse.Namespace, settings: Settings) -> int:
    from argcomplete.shell_integration import shellcode

    print(shellcode(["hub"], shell=args.shell), end="")
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from a command's flags, the HUB_* variables and the profile, in that order."""
    from hub.profiles import profile_values, selected_profile

    name = selected_profile(getattr(args, "profile", None))
    values = profile_values(name) if name else {}
    bootstrap: str | None = getattr(args, "bootstrap", None)
    if bootstrap and args.command not in ("run", "demo"):
        values["kafka_bootstrap_servers"] = bootstrap
    return load_settings(**values)


def _setup_logging(args: argparse.Namespace, settings: Settings) -> None:
    """The hub's format and level; a worker's faust reformats its own handlers the same way."""
    from hub.logging_setup import register_secrets, secrets_of, setup_logging

    register_secrets(secrets_of(settings))
    explicit = "log_level" in settings.model_fields_set
    level = settings.log_level if explicit else "warning"
    setup_logging(level, settings.log_format)


def argcomplete_hook(parser: argparse.ArgumentParser) -> None:
    """Answer a shell's completion request (and exit) when the shell asks; else nothing."""
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``hub`` command. Exit codes: 0 ok, 1 not found or a check failed, 2 usage,
    3 a hub error (one line saying what to do), 130 interrupted (hub/cli_errors.py)."""
    parser = build_parser()
    argcomplete_hook(parser)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    if args.command not in ("run", "worker"):
        # One-shot commands: the client's transient retries (new topic without a leader yet)
        # and its connection errors are not news; a failure surfaces as one line below.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    bootstrap = os.environ.get("HUB_KAFKA_BOOTSTRAP_SERVERS", "the configured broker")
    try:
        settings = _settings(args)
        bootstrap = settings.kafka_bootstrap_servers
        _setup_logging(args, settings)
        return handler(args, settings)
    except BrokenPipeError:
        # The reader stopped reading (``hub topics list | head``): what it took was all it
        # wanted. Python's recipe: point stdout at /dev/null so the exit's flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (Exception, KeyboardInterrupt) as exc:
        failure = describe(exc, bootstrap)
        if failure is None:
            raise  # the hub's own bug: its traceback is what is needed
        if failure.code != EXIT_INTERRUPTED:
            _say(f"error: {failure.message}")
    collect_failed_clients()
    return failure.code


if __name__ == "__main__":
    sys.exit(main())
