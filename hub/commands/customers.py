"""`hub customers onboard|attest|gdap|transfer|drift`: requests to the relationships flow.

Each command checks its request against the event's contract and publishes it on
``hub.relationships.requests`` (keyed by reseller); the outcome reaches the reseller's
``partner.<id>.status`` and ``hub.relationships.events`` (hub/streams/relationships/).
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from hub.cli_errors import EXIT_OK, EXIT_USAGE
from hub.commands import Subcommands, add_output_flag, emit, say
from hub.commands.arg_types import aware_time, iso_date, reseller_id
from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Outgoing, publish
from hub.domain.relationships.gdap import SERVICE_SUPPORT_ADMINISTRATOR
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.relationships import (
    CustomerAttestationRequested,
    CustomerOnboardingRequested,
    GdapRelationshipRequested,
    SubscriptionDriftResolution,
    SubscriptionTransferRequested,
)
from hub.settings import Settings
from hub.topics import Topic


def _envelope(reseller: str) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"cli-{uuid.uuid4().hex[:12]}",
        "reseller_id": reseller,
    }


def _contact(args: argparse.Namespace) -> dict[str, str]:
    return {"first_name": args.first_name, "last_name": args.last_name, "email": args.email}


def _send(args: argparse.Namespace, settings: Settings, build: Any, what: str) -> int:
    """Build the request (its contract checks it) and publish it; one line on a refusal."""
    try:
        event: Event = build()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        say(f"{what} refused: {where}: {first['msg']}")
        return EXIT_USAGE
    topic = settings.catalog.name(Topic.RELATIONSHIP_REQUESTS)
    outgoing = [Outgoing(topic, event.reseller_id or "", event)]
    auth = auth_from_settings(settings)
    asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing, auth=auth))
    doc = {"event_id": str(event.event_id), "type": type(event).__name__, "topic": topic}
    emit(args, doc, f"{what} sent (event {event.event_id}); the outcome comes on the status topic")
    return EXIT_OK


def _onboard(args: argparse.Namespace, settings: Settings) -> int:
    def build() -> Event:
        attestation: dict[str, Any] = {}
        if args.mca_version or args.agreed_at:
            attestation = {
                "agreement_template_id": args.mca_version,
                "agreement_date": args.agreed_at,
                "accepted_by": _contact(args),
            }
        return CustomerOnboardingRequested.model_validate(
            {
                **_envelope(args.reseller),
                "request_id": args.request_id or f"onboard-{args.customer_id}",
                "customer_id": args.customer_id,
                "company_name": args.company,
                "domain": args.domain,
                "address": {
                    "address_line1": args.address,
                    "city": args.city,
                    "postal_code": args.postal_code,
                    "country": args.country,
                    "state": args.state,
                },
                "contact": _contact(args),
                "language": args.language,
                "currency": args.currency,
                **attestation,
            }
        )

    return _send(args, settings, build, "onboarding")


def _attest(args: argparse.Namespace, settings: Settings) -> int:
    def build() -> Event:
        return CustomerAttestationRequested.model_validate(
            {
                **_envelope(args.reseller),
                "customer_id": args.customer_id,
                "agreement_template_id": args.mca_version,
                "agreement_date": args.agreed_at,
                "accepted_by": _contact(args),
            }
        )

    return _send(args, settings, build, "attestation")


def _gdap(args: argparse.Namespace, settings: Settings) -> int:
    def build() -> Event:
        return GdapRelationshipRequested.model_validate(
            {
                **_envelope(args.reseller),
                "customer_id": args.customer_id,
                "display_name": args.name or f"{args.customer_id}-support",
                "roles": tuple(args.role or [SERVICE_SUPPORT_ADMINISTRATOR]),
                "duration": args.duration,
                "auto_extend": args.auto_extend,
            }
        )

    return _send(args, settings, build, "GDAP request")


def _transfer(args: argparse.Namespace, settings: Settings) -> int:
    def build() -> Event:
        return SubscriptionTransferRequested.model_validate(
            {
                **_envelope(args.reseller),
                "to_reseller_id": args.to,
                "subscription_id": args.subscription_id,
                "effective_date": args.effective,
            }
        )

    return _send(args, settings, build, "transfer")


def _drift(args: argparse.Namespace, settings: Settings) -> int:
    def build() -> Event:
        return SubscriptionDriftResolution.model_validate(
            {
                **_envelope(args.reseller),
                "customer_id": args.customer_id,
                "subscription_id": args.subscription_id,
                "resolution": args.resolution,
                "note": args.note,
            }
        )

    return _send(args, settings, build, "drift resolution")


def _contact_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--first-name", required=True, help="the customer's contact")
    parser.add_argument("--last-name", required=True)
    parser.add_argument("--email", required=True)


def add_commands(commands: Subcommands) -> None:
    """Adds ``hub customers onboard|attest|gdap|transfer|drift``."""
    customers = commands.add_parser(
        "customers", help="customers: onboarding, MCA attestation, GDAP, transfers, drift"
    )
    actions = customers.add_subparsers(dest="customers_command", required=True, metavar="ACTION")

    onboard = actions.add_parser("onboard", help="create a customer for a reseller")
    onboard.add_argument("reseller", type=reseller_id)
    onboard.add_argument("customer_id", help="the hub's id for the customer")
    onboard.add_argument("--company", required=True)
    onboard.add_argument("--domain", required=True, help="<prefix> of <prefix>.onmicrosoft.com")
    onboard.add_argument("--address", required=True, help="address line 1")
    onboard.add_argument("--city", required=True)
    onboard.add_argument("--postal-code", required=True)
    onboard.add_argument("--state", default=None)
    onboard.add_argument("--country", required=True, help="ISO code, e.g. DE")
    onboard.add_argument("--language", default="en")
    onboard.add_argument("--currency", required=True)
    onboard.add_argument("--request-id", default=None)
    _contact_flags(onboard)
    onboard.add_argument("--mca-version", help="the MCA version the contact accepted")
    onboard.add_argument("--agreed-at", type=aware_time, help="when, e.g. 2026-03-03T08:00Z")
    add_output_flag(onboard)
    onboard.set_defaults(handler=_onboard)

    attest = actions.add_parser("attest", help="record the customer's MCA acceptance")
    attest.add_argument("reseller", type=reseller_id)
    attest.add_argument("customer_id")
    attest.add_argument("--mca-version", required=True)
    attest.add_argument("--agreed-at", type=aware_time, required=True)
    _contact_flags(attest)
    add_output_flag(attest)
    attest.set_defaults(handler=_attest)

    gdap = actions.add_parser("gdap", help="ask the customer for a GDAP relationship")
    gdap.add_argument("reseller", type=reseller_id)
    gdap.add_argument("customer_id")
    gdap.add_argument(
        "--role",
        action="append",
        help="role definition id (repeatable; default Service Support Administrator)",
    )
    gdap.add_argument("--duration", default="P730D", help="ISO 8601, at most P730D")
    gdap.add_argument("--auto-extend", default="PT0S", choices=("PT0S", "P0D", "P180D"))
    gdap.add_argument("--name", help="display name (at most 50 characters)")
    add_output_flag(gdap)
    gdap.set_defaults(handler=_gdap)

    transfer = actions.add_parser("transfer", help="move a subscription to another reseller")
    transfer.add_argument("reseller", type=reseller_id, help="the reseller it belongs to now")
    transfer.add_argument("subscription_id")
    transfer.add_argument("--to", type=reseller_id, required=True, help="the new reseller")
    transfer.add_argument("--effective", type=iso_date, required=True, help="YYYY-MM-DD")
    add_output_flag(transfer)
    transfer.set_defaults(handler=_transfer)

    drift = actions.add_parser("drift", help="adopt, correct or ignore a drift the sweep found")
    drift.add_argument("reseller", type=reseller_id)
    drift.add_argument("customer_id")
    drift.add_argument("subscription_id")
    drift.add_argument("resolution", choices=("adopt", "correct", "ignore"))
    drift.add_argument("--note")
    add_output_flag(drift)
    drift.set_defaults(handler=_drift)
