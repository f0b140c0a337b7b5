"""The demo's relationships story: a new customer onboarded with its Microsoft Customer
Agreement recorded, and a subscription moved from one reseller to another mid-month."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hub.topics import PartnerTopic

if TYPE_CHECKING:
    from hub.demo.environment import DemoEnvironment
    from hub.demo.scenario import DemoState, Step

RESELLER = "contoso-de"
NEW_RESELLER = "fabrikam-fr"  # both bill in EUR
MOVED_ORDER = "ord-1001"  # contoso-de's Microsoft 365 for muenchen-bau


async def onboarding(env: DemoEnvironment, state: DemoState) -> str:
    from hub.demo.scenario import decoded, wait_for
    from hub.schemas.events.relationships import CustomerOnboarded, CustomerOnboardingRefused

    suffix = "".join(c for c in state.run_id.lower() if c.isalnum())[:8]
    customer_id = f"bremen-werft-{suffix}"
    agreed = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    await env.hub(
        "customers",
        "onboard",
        RESELLER,
        customer_id,
        "--company",
        "Bremer Werft GmbH",
        "--domain",
        f"bremenwerft{suffix}",
        "--address",
        "Am Hafen 1",
        "--city",
        "Bremen",
        "--postal-code",
        "28195",
        "--country",
        "DE",
        "--language",
        "de",
        "--currency",
        "EUR",
        "--first-name",
        "Hanna",
        "--last-name",
        "Meyer",
        "--email",
        "hanna.meyer@bremer-werft.example",
        "--mca-version",
        "mca-2024-01",
        "--agreed-at",
        agreed,
    )
    topic = env.topics.partner(RESELLER, PartnerTopic.STATUS)

    async def answered() -> bool:
        return any(
            isinstance(e, CustomerOnboarded | CustomerOnboardingRefused)
            and e.customer_id == customer_id
            for e in await decoded(env, topic)
        )

    await wait_for(f"{customer_id} onboarded", answered)
    outcome = next(
        e
        for e in await decoded(env, topic)
        if isinstance(e, CustomerOnboarded | CustomerOnboardingRefused)
        and e.customer_id == customer_id
    )
    if isinstance(outcome, CustomerOnboardingRefused):
        return f"{customer_id} refused: {outcome.message}"
    return (
        f"{customer_id} created at Microsoft for {RESELLER} ({outcome.domain}), its Microsoft "
        "Customer Agreement recorded (mca-2024-01): it may order now"
    )


async def transfer(env: DemoEnvironment, state: DemoState) -> str:
    from hub.demo.scenario import decoded, wait_for
    from hub.schemas.events.relationships import (
        SubscriptionTransferred,
        SubscriptionTransferRefused,
    )

    sub = state.subscriptions.get(MOVED_ORDER)
    if sub is None:
        return f"no subscription of {MOVED_ORDER} to move"
    effective = sub.term_start + timedelta(days=10)
    await env.hub(
        "customers",
        "transfer",
        RESELLER,
        sub.subscription_id,
        "--to",
        NEW_RESELLER,
        "--effective",
        effective.isoformat(),
    )
    topic = env.topics.partner(RESELLER, PartnerTopic.STATUS)

    def about(e: object) -> bool:
        return getattr(e, "subscription_id", None) == sub.subscription_id and isinstance(
            e, SubscriptionTransferred | SubscriptionTransferRefused
        )

    async def answered() -> bool:
        return any(about(e) for e in await decoded(env, topic))

    await wait_for(f"the transfer of {sub.subscription_id}", answered)
    outcome = next(e for e in await decoded(env, topic) if about(e))
    if isinstance(outcome, SubscriptionTransferRefused):
        return f"transfer to {NEW_RESELLER} refused: {outcome.message}"
    assert isinstance(outcome, SubscriptionTransferred)
    return (
        f"{sub.customer_id}'s subscription moved from {RESELLER} to {NEW_RESELLER} on "
        f"{effective}: the period splits {outcome.from_period_minor / 100:.2f} / "
        f"{outcome.to_period_minor / 100:.2f} EUR, {RESELLER}'s open commitment "
        f"{outcome.released_commitment_minor / 100:.2f} EUR released; both told on their "
        "status topics"
    )


def around(steps: Sequence[Step]) -> tuple[Step, ...]:
    """A new customer and a transfer after the rest of the story (they change none of its
    figures: the transfer's lines fall in the next invoice)."""
    return (
        *steps,
        ("a new customer onboarded with the Microsoft Customer Agreement", onboarding),
        ("a subscription moved to another reseller mid-month", transfer),
    )
