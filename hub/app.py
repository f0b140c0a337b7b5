"""The composition root: frozen settings in, a wired faust app out.

Everything that varies between production, the demo and tests (broker, ports, topic prefix,
state dirs, connectors) enters here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import faust
from faust.sensors.prometheus import setup_prometheus_sensors

from hub.connectors.kafka_auth import auth_from_settings
from hub.errors import ConfigError
from hub.runtime import collector, health, lag
from hub.runtime.faust_table import HubTable
from hub.runtime.faust_transport import HubApp
from hub.runtime.kafka_client import track_produced_topics
from hub.runtime.sensors import without_table_counts
from hub.runtime.tuning import FAUST_TUNING
from hub.schemas.codec import Codec
from hub.schemas.faust_codec import register_codec
from hub.settings import Settings
from hub.streams import ops_commands, reference
from hub.streams.context import Context
from hub.web_access import web_application_options, web_bind

StreamModule = Callable[[faust.App, Context], None]

# Ops commands that no flow of a partial worker handles and that no flow of the hub declares are
# dead-lettered by the flow group that runs this flow, or the part of it named here (one
# outcome, not one per group).
OPS_COMMAND_OWNER = "orders"
OPS_COMMAND_OWNER_PART = "order-intake"


def stream_modules() -> Mapping[str, StreamModule]:
    """The hub's flows by name, each a ``register(app, ctx)`` function, in start order."""
    from hub.streams import billing, credits, orders, support
    from hub.streams.consumption import register as consumption
    from hub.streams.incentives import register as incentives
    from hub.streams.ingress import gateway as ingress_gateway
    from hub.streams.relationships.flow import register as relationships
    from hub.streams.renewals import register as renewals

    return {
        "orders": orders.register,
        "billing": billing.register,
        "support": support.register,
        "credits": credits.register,
        "consumption": consumption,
        "ingress": ingress_gateway.register,
        "incentives": incentives,
        "renewals": renewals,
        "relationships": relationships,
    }


def flow_parts() -> Mapping[str, tuple[str, StreamModule]]:
    """Parts of a flow that ``HUB_FLOWS`` may name instead of the flow, each then run by a flow
    group of its own: order intake (the credit decision, whose latency resellers see) apart from
    fulfilment (provisioning at Microsoft, which takes what CPU it gets while it has a backlog).
    Name -> (the flow it is part of, its ``register``)."""
    from hub.streams import orders

    return {
        OPS_COMMAND_OWNER_PART: ("orders", orders.register_intake),
        "fulfilment": ("orders", orders.register_fulfilment),
    }


def selected_modules(settings: Settings) -> Sequence[StreamModule]:
    """The flows ``settings.flows`` names (every flow when it names none), a flow's parts in
    the flow's place."""
    modules = stream_modules()
    parts = flow_parts()
    wanted = settings.flow_names
    unknown = [name for name in wanted if name not in modules and name not in parts]
    if unknown:
        raise ConfigError(
            f"HUB_FLOWS names {', '.join(unknown)}: the flows are {', '.join(modules)}, "
            f"and parts of a flow {', '.join(f'{p} ({o})' for p, (o, _) in parts.items())}"
        )
    for part, (flow, _) in parts.items():
        if part in wanted and flow in wanted:
            raise ConfigError(
                f"HUB_FLOWS names {flow} and {part}, which is part of it: name one or the other"
            )
    chosen: list[StreamModule] = []
    for name, register in modules.items():
        if not wanted or name in wanted:
            chosen.append(register)
        else:
            chosen += [part for p, (flow, part) in parts.items() if flow == name and p in wanted]
    return chosen


def owns_unknown_commands(settings: Settings) -> bool:
    """Whether this worker's group dead-letters an ops command no flow declares."""
    names = settings.flow_names
    return not names or OPS_COMMAND_OWNER in names or OPS_COMMAND_OWNER_PART in names


def build_codec(settings: Settings) -> Codec:
    """The codec: Avro single-object encoding, or Confluent framing with registry ids when a
    registry is configured. Every contract's id is looked up here, so a worker (or a command)
    whose registry is unreachable or not yet filled fails at start with one clear line."""
    if settings.schema_registry_url is None:
        return Codec()
    from hub.connectors.schema_registry import (
        RegistryResolver,
        SchemaRegistryClient,
        registry_auth,
    )
    from hub.schemas.catalog import default_catalog

    client = SchemaRegistryClient(settings.schema_registry_url, auth=registry_auth(settings))
    resolver = RegistryResolver(client, strategy="record")
    resolver.preload(default_catalog().contracts.values())
    return Codec(resolver=resolver)


def build_app(settings: Settings, modules: Sequence[StreamModule] | None = None) -> faust.App:
    """Build the hub's faust app from settings; register each flow's agents on it."""
    track_produced_topics()  # before faust builds its producer: see hub/runtime/kafka_client.py
    settings.table_dir.mkdir(parents=True, exist_ok=True)
    auth = auth_from_settings(settings)
    credentials = (
        None
        if auth is None
        else faust.SASLCredentials(
            username=auth.username,
            password=auth.password.get_secret_value(),
            mechanism=auth.mechanism,
            ssl_context=auth.ssl_context(),  # SASL_SSL when set
        )
    )
    app = HubApp(
        settings.worker_group,
        broker=settings.broker_urls,
        store="rocksdb://",
        datadir=str(settings.table_dir),
        # At least once, made exact by each flow's journal (hub/runtime/journal.py) and derived
        # event ids. faust's "exactly_once" (a transactional producer per partition) is marked
        # experimental upstream and is not what the crash tests prove, so it is not offered.
        processing_guarantee="at_least_once",
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        web_host=settings.worker_web_host,
        web_bind=web_bind(settings),  # faust listens on every interface unless told
        web_port=settings.web_port,
        web_application_options=web_application_options(settings),
        canonical_url=settings.canonical_url,
        web_in_thread=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        Table=HubTable,
        broker_credentials=credentials,
        # No linger: the flows' records reach the producer already in batches (RecordBatches,
        # hub/runtime/record_batches.py), and a journal waits for its entry's delivery before
        # the outputs: a 5 ms linger was a quarter of ticket routing's time at full load.
        **{**FAUST_TUNING, "producer_linger_ms": 0},
    )
    setup_prometheus_sensors(app, name_prefix="faust")
    without_table_counts(app)  # hub/runtime/sensors.py: not on every table read and write
    codec = build_codec(settings)
    # Also as a faust codec: `value_serializer="hub-avro"` for any topic that wants it.
    register_codec(codec)
    ctx = Context(
        app,
        settings,
        codec,
        settings.catalog,
        reference.ReferenceTables(),
    )
    reference.register(app, ctx)
    # Read by every worker whatever its flows: the intake's attestation and escalation's GDAP
    # checks consult them.
    from hub.streams.relationships.flow import register_books

    register_books(app, ctx)
    health.register(app, ctx.is_ready)
    collector.register(app, lambda: all(health.readiness(app, ctx.is_ready).values()))
    lag.register(
        app, settings.kafka_bootstrap_servers, settings.lag_interval_s, auth_from_settings(settings)
    )
    for register in selected_modules(settings) if modules is None else modules:
        register(app, ctx)
    ops_commands.register(
        app,
        ctx,
        every_flow=modules is not None or not settings.flow_names,
        owns_unknown=owns_unknown_commands(settings),
    )
    return app
