import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.ids import HUB_NAMESPACE, derive_event_id, idempotency_key_for_order


def test_same_inputs_give_the_same_event_id_on_replay():
    assert derive_event_id("OrderAccepted", "o-1") == derive_event_id("OrderAccepted", "o-1")


def test_event_id_is_a_uuid5_under_the_hub_namespace():
    event_id = derive_event_id("OrderAccepted", "o-1")
    assert event_id.version == 5
    assert event_id == uuid.uuid5(HUB_NAMESPACE, "13:OrderAccepted3:o-1")


def test_namespace_separates_events_derived_from_the_same_source():
    assert derive_event_id("OrderAccepted", "o-1") != derive_event_id("OrderHeld", "o-1")


def test_part_boundaries_cannot_be_confused():
    assert derive_event_id("x", "ab", "c") != derive_event_id("x", "a", "bc")
    assert derive_event_id("x", "a:b") != derive_event_id("x", "a", "b")


@given(st.lists(st.text(max_size=5), max_size=4), st.lists(st.text(max_size=5), max_size=4))
def test_different_parts_never_share_an_id(left, right):
    if left != right:
        assert derive_event_id("n", *left) != derive_event_id("n", *right)


def test_empty_namespace_is_refused():
    with pytest.raises(ValueError, match="namespace"):
        derive_event_id("", "o-1")


def test_order_idempotency_key_is_a_stable_guid_per_order():
    key = idempotency_key_for_order("o-1")
    assert key == idempotency_key_for_order("o-1")
    assert str(uuid.UUID(key)) == key
    assert key != idempotency_key_for_order("o-2")


def test_order_idempotency_key_differs_from_the_order_events_ids():
    assert idempotency_key_for_order("o-1") != str(derive_event_id("OrderAccepted", "o-1"))


def test_order_idempotency_key_needs_an_order_id():
    with pytest.raises(ValueError, match="order_id"):
        idempotency_key_for_order("")
