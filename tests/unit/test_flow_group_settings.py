"""Flow groups: a worker runs the flows ``HUB_FLOWS`` names, in a consumer group of its own, and
an ops command gets one outcome however the flows are split over groups."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.app import (
    OPS_COMMAND_OWNER,
    OPS_COMMAND_OWNER_PART,
    flow_parts,
    owns_unknown_commands,
    selected_modules,
    stream_modules,
)
from hub.errors import ConfigError, ValidationFailed
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.schemas.events.orders import OrderReviewDecided
from hub.settings import Settings
from hub.streams.ops_commands import COMMANDS, dispatcher

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _settings(tmp_path: Path, flows: str = "") -> Settings:
    return Settings(state_dir=tmp_path, flows=flows)


def test_every_flow_by_default_under_the_app_id(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.flow_names == ()
    assert settings.worker_group == "hub"
    assert list(selected_modules(settings)) == list(stream_modules().values())
    assert settings.app_table_dir == tmp_path / "tables" / "hub"


def test_a_flow_set_is_its_own_group_whatever_the_order_it_is_named_in(tmp_path: Path) -> None:
    one = _settings(tmp_path, "orders, credits,support")
    other = _settings(tmp_path, "support,orders,credits,orders")
    assert one.flow_names == ("orders", "credits", "support")
    assert one.worker_group == other.worker_group == "hub.credits-orders-support"
    billing = _settings(tmp_path, "billing")
    assert billing.worker_group == "hub.billing"
    # Tables of different groups never share a directory.
    assert billing.app_table_dir != one.app_table_dir


def test_only_the_named_flows_are_registered_in_the_hubs_order(tmp_path: Path) -> None:
    modules = stream_modules()
    chosen = selected_modules(_settings(tmp_path, "credits,billing"))
    assert list(chosen) == [modules["billing"], modules["credits"]]


def test_an_unknown_flow_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"HUB_FLOWS names biling: the flows are orders, "):
        selected_modules(_settings(tmp_path, "biling"))


def test_a_malformed_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flows"):
        _settings(tmp_path, "billing;orders")


def test_the_ops_command_owner_is_a_flow() -> None:
    assert OPS_COMMAND_OWNER in stream_modules()


def _review() -> OrderReviewDecided:
    return OrderReviewDecided(
        event_id=uuid.uuid4(),
        event_time=NOW,
        correlation_id="corr-1",
        reseller_id="contoso",
        order_id="ord-1",
        decision="release",
        reviewer="finance",
        decided_at=NOW,
    )


class Unlisted(Event):
    """An event no flow takes as an ops command."""


def _not_a_command() -> Unlisted:
    return Unlisted(event_id=uuid.uuid4(), event_time=NOW, correlation_id="corr-2")


async def _handled(event: Event) -> Sequence[Emit]:
    return [Emit("out", "key", event)]


async def test_a_group_without_the_commands_flow_passes_it_over_and_its_own_group_handles_it() -> (
    None
):
    review = _review()
    elsewhere = dispatcher({}, every_flow=False, owns_unknown=True)
    here = dispatcher({OrderReviewDecided: _handled}, every_flow=False, owns_unknown=False)
    assert await elsewhere(review) == []
    assert [emit.event for emit in await here(review)] == [review]


async def test_an_unknown_command_is_dead_lettered_by_one_group_only() -> None:
    event = _not_a_command()
    with pytest.raises(ValidationFailed, match="not an ops command"):
        await dispatcher({}, every_flow=False, owns_unknown=True)(event)
    assert await dispatcher({}, every_flow=False, owns_unknown=False)(event) == []


async def test_a_worker_of_every_flow_dead_letters_a_command_it_has_no_handler_for() -> None:
    with pytest.raises(ValidationFailed, match="not an ops command"):
        await dispatcher({}, every_flow=True, owns_unknown=False)(_review())


def test_a_flow_that_handles_an_undeclared_command_fails_at_build() -> None:
    assert "Unlisted" not in COMMANDS
    with pytest.raises(ValueError, match="Unlisted are not declared"):
        dispatcher({Unlisted: _handled}, every_flow=True, owns_unknown=True)


def test_a_part_of_a_flow_runs_in_the_flows_place_in_a_group_of_its_own(tmp_path: Path) -> None:
    parts = flow_parts()
    modules = stream_modules()
    intake = _settings(tmp_path, "billing,order-intake")
    assert list(selected_modules(intake)) == [parts["order-intake"][1], modules["billing"]]
    fulfilment = _settings(tmp_path, "fulfilment")
    assert list(selected_modules(fulfilment)) == [parts["fulfilment"][1]]
    assert fulfilment.worker_group == "hub.fulfilment"
    assert intake.worker_group == "hub.billing-order-intake"
    # Every flow by default: the flow itself, never its parts again.
    assert parts["fulfilment"][1] not in selected_modules(_settings(tmp_path))


def test_a_flow_and_its_part_in_one_setting_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="names orders and fulfilment, which is part of it"):
        selected_modules(_settings(tmp_path, "orders,fulfilment"))


def test_unknown_ops_commands_are_dead_lettered_by_intakes_group_only(tmp_path: Path) -> None:
    assert owns_unknown_commands(_settings(tmp_path))
    assert owns_unknown_commands(_settings(tmp_path, "orders,billing"))
    assert owns_unknown_commands(_settings(tmp_path, "order-intake"))
    assert not owns_unknown_commands(_settings(tmp_path, "fulfilment"))
    assert not owns_unknown_commands(_settings(tmp_path, "billing"))
    assert flow_parts()[OPS_COMMAND_OWNER_PART][0] == OPS_COMMAND_OWNER
