"""``hub topics``, ``hub schemas``, ``hub reference`` and ``hub registry``: contracts and data."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from hub.commands import Subcommands, add_output_flag, arg_types, emit, say, wants_json
from hub.connectors.kafka_auth import auth_from_settings
from hub.settings import Settings

# --- topics ----------------------------------------------------------------------------------


def _topics_apply(args: argparse.Namespace, settings: Settings) -> int:
    from hub.connectors.kafka_admin import ChangeKind, apply_topics, refusal
    from hub.connectors.reference_files import load_reference_file, reseller_ids
    from hub.topic_plan import every_topic

    resellers = list(args.reseller or [])
    for path in args.resellers_from or []:
        resellers += reseller_ids(load_reference_file(Path(path)))
    specs = every_topic(settings.catalog, resellers)
    changes = asyncio.run(
        apply_topics(
            settings.kafka_bootstrap_servers,
            specs,
            replication_factor=settings.kafka_replication_factor,
            auth=auth_from_settings(settings),
        )
    )
    changed = [c for c in changes if c.kind is not ChangeKind.UNCHANGED]
    shown = changed if not args.verbose else changes
    emit(
        args,
        [{"topic": c.topic, "change": c.kind.value, "detail": c.detail} for c in shown],
        lambda: "\n".join(map(str, shown)),
    )
    refused = [c for c in changes if c.kind is ChangeKind.REFUSED]
    done = len(changed) - len(refused)
    say(f"{len(specs)} topics checked, {done or 'nothing'} changed")
    if refused:
        say(f"error: {refusal(refused)}")
        return 1
    return 0


def _topics_list(args: argparse.Namespace, settings: Settings) -> int:
    from hub.topic_plan import every_topic

    specs = every_topic(settings.catalog, args.reseller or [])
    if wants_json(args):
        emit(
            args,
            [
                {
                    "topic": spec.name,
                    "key": spec.key,
                    "partitions": spec.partitions,
                    "compacted": spec.compacted,
                    "retention_ms": spec.retention_ms,
                    "writers": list(spec.writers),
                    "readers": list(spec.readers),
                    "events": list(spec.events),
                }
                for spec in specs
            ],
            "",
        )
        return 0
    for spec in specs:
        policy = "compact" if spec.compacted else f"retention={spec.retention_ms}ms"
        events = ",".join(spec.events) or "-"
        print(
            f"{spec.name:<45} key={spec.key:<16} p={spec.partitions} {policy:<26} "
            f"w={'|'.join(spec.writers)} r={'|'.join(spec.readers)} events={events}"
        )
    return 0


# --- schemas ---------------------------------------------------------------------------------


def _schemas_check(args: argparse.Namespace, settings: Settings) -> int:
    from hub.schemas.avro_files import AVRO_DIR
    from hub.schemas.catalog import default_catalog
    from hub.schemas.compat import check_repo
    from hub.schemas.derive import drift

    avro_dir = Path(args.avro_dir) if args.avro_dir else AVRO_DIR
    problems = check_repo(avro_dir)
    if avro_dir == AVRO_DIR:
        contracts = default_catalog().contracts.values()
        problems += drift((c.model, c.current.text) for c in contracts)
    emit(args, {"avro_dir": str(avro_dir), "problems": problems}, lambda: "\n".join(problems))
    if problems:
        say(f"{len(problems)} compatibility problem(s) in {avro_dir}")
        return 1
    say(f"every schema version in {avro_dir} reads and is read by every other (FULL_TRANSITIVE)")
    return 0


def _schemas_register(args: argparse.Namespace, settings: Settings) -> int:
    from hub.connectors.schema_registry import (
        COMPATIBILITY,
        SchemaRegistryClient,
        register_contracts,
        registry_auth,
    )
    from hub.errors import ConfigError

    url = args.registry or settings.schema_registry_url
    if not url:
        raise ConfigError("no registry: pass --registry URL or set HUB_SCHEMA_REGISTRY_URL")
    client = SchemaRegistryClient(url, auth=registry_auth(settings))
    registered = register_contracts(client)
    ids = sorted(registered.items())
    emit(
        args,
        [{"subject": subject, "id": schema_id} for subject, schema_id in ids],
        lambda: "\n".join(f"{schema_id:>6}  {subject}" for subject, schema_id in ids),
    )
    say(f"{len(registered)} subjects registered at {url}, each {COMPATIBILITY}")
    return 0


# --- reference data --------------------------------------------------------------------------


def _reference_load(args: argparse.Namespace, settings: Settings) -> int:
    from hub.app import build_codec
    from hub.connectors.kafka_admin import ChangeKind, apply_topics, refusal
    from hub.connectors.kafka_io import publish
    from hub.connectors.reference_files import load_reference_file, reference_outgoing
    from hub.errors import ConfigError
    from hub.topic_plan import every_topic

    ref = load_reference_file(Path(args.file), section=args.section)
    say("validated " + ", ".join(f"{n} {what}" for what, n in ref.counts().items()))
    catalog = settings.catalog
    bootstrap = settings.kafka_bootstrap_servers
    if not args.no_topics:
        resellers = [r.reseller_id for r in ref.resellers]
        changes = asyncio.run(
            apply_topics(
                bootstrap,
                every_topic(catalog, resellers),
                replication_factor=settings.kafka_replication_factor,
                auth=auth_from_settings(settings),
            )
        )
        refused = [c for c in changes if c.kind is ChangeKind.REFUSED]
        if refused:
            # Reference events on such a topic would be dead-lettered by the worker.
            raise ConfigError(f"nothing published: {refusal(refused)}")
    items = reference_outgoing(ref, catalog, datetime.now(UTC))
    sent = asyncio.run(
        publish(bootstrap, build_codec(settings), items, auth=auth_from_settings(settings))
    )
    say(f"published {sent} reference events to {bootstrap}")
    if wants_json(args):
        emit(args, {"validated": ref.counts(), "published": sent, "bootstrap": bootstrap}, "")
    return 0


# --- registry --------------------------------------------------------------------------------


def _registry_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.data_dir) if args.data_dir else settings.state_dir / "registry"


def _registry_start(args: argparse.Namespace, settings: Settings) -> int:
    from hub.ops.local_registry import start_registry

    handle = start_registry(_registry_dir(args, settings), port=args.port, progress=say)
    print(handle.url)
    say(f"use it with: HUB_SCHEMA_REGISTRY_URL={handle.url}")
    return 0


def _registry_stop(args: argparse.Namespace, settings: Settings) -> int:
    from hub.ops.local_registry import stop_registry

    if not stop_registry(_registry_dir(args, settings), progress=say):
        say("no schema registry is running from there")
    return 0


def add_commands(commands: Subcommands) -> None:
    topics = commands.add_parser("topics", help="the topic catalogue, applied to a broker")
    actions = topics.add_subparsers(dest="topics_command", required=True, metavar="ACTION")
    apply = actions.add_parser("apply", help="create or update every topic; print what changed")
    apply.add_argument("--reseller", action="append", help="also this reseller's partner topics")
    apply.add_argument(
        "--resellers-from", action="append", metavar="FILE", help="resellers of a reference file"
    )
    apply.add_argument("-v", "--verbose", action="store_true", help="list unchanged topics too")
    add_output_flag(apply)
    apply.set_defaults(handler=_topics_apply)
    listing = actions.add_parser("list", help="print the catalogue")
    listing.add_argument("--reseller", action="append", help="also this reseller's topics")
    add_output_flag(listing)
    listing.set_defaults(handler=_topics_list)

    schemas = commands.add_parser("schemas", help="Avro contracts: compatibility and registry")
    actions = schemas.add_subparsers(dest="schemas_command", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check", help="fail unless every version reads every other's data, both ways"
    )
    check.add_argument("--avro-dir", help="check this directory instead of the shipped schemas")
    add_output_flag(check)
    check.set_defaults(handler=_schemas_check)
    register = actions.add_parser(
        "register", help="register every contract (one subject per record, FULL_TRANSITIVE)"
    )
    register.add_argument("--registry", help="Confluent-compatible base URL")
    add_output_flag(register)
    register.set_defaults(handler=_schemas_register)

    reference = commands.add_parser("reference", help="reseller, customer and catalogue data")
    actions = reference.add_subparsers(dest="reference_command", required=True, metavar="ACTION")
    load = actions.add_parser("load", help="validate a YAML/CSV file and publish it")
    load.add_argument("file")
    load.add_argument(
        "--section",
        choices=("resellers", "customers", "catalog", "price_lists"),
        help="what a CSV file holds",
    )
    load.add_argument("--no-topics", action="store_true", help="do not create partner topics")
    add_output_flag(load)
    load.set_defaults(handler=_reference_load)

    registry = commands.add_parser("registry", help="the local schema registry (Apicurio)")
    actions = registry.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    start = actions.add_parser("start", help="start it in the background; print its URL")
    start.add_argument(
        "--port", type=arg_types.port, default=18081, help="port to listen on (default: 18081)"
    )
    start.add_argument("--data-dir", help="registry data (default: $HUB_STATE_DIR/registry)")
    start.set_defaults(handler=_registry_start)
    stop = actions.add_parser("stop", help="stop it")
    stop.add_argument("--data-dir", help="registry data (default: $HUB_STATE_DIR/registry)")
    stop.set_defaults(handler=_registry_stop)
