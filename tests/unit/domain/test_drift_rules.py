from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import SubscriptionStatus
from hub.domain.relationships.drift import (
    DriftKind,
    Resolution,
    SubscriptionView,
    classify,
    resolution_refusal,
)

HUB = SubscriptionView(
    subscription_id="s1",
    customer_id="c1",
    status=SubscriptionStatus.ACTIVE,
    quantity=10,
    auto_renew=True,
    term_end=date(2026, 12, 31),
)


def test_agreement_is_no_drift():
    assert classify(HUB, HUB) is None


def test_quantity_changed_in_the_portal_is_a_change():
    drift = classify(HUB, HUB.model_copy(update={"quantity": 12}))
    assert drift is not None
    assert drift.kind is DriftKind.CHANGED
    assert drift.fields == {"quantity": ("10", "12")}


def test_a_later_term_end_is_a_renewal():
    drift = classify(HUB, HUB.model_copy(update={"term_end": date(2027, 12, 31)}))
    assert drift is not None
    assert drift.kind is DriftKind.RENEWED


def test_suspended_at_microsoft_wins_over_other_differences():
    pc = HUB.model_copy(update={"status": SubscriptionStatus.SUSPENDED, "quantity": 3})
    drift = classify(HUB, pc)
    assert drift is not None
    assert drift.kind is DriftKind.SUSPENDED_BY_MICROSOFT
    assert set(drift.fields) == {"status", "quantity"}


def test_a_subscription_the_hub_never_placed_is_unknown_to_it():
    drift = classify(None, HUB)
    assert drift is not None
    assert drift.kind is DriftKind.UNKNOWN_TO_HUB


def test_only_a_change_can_be_corrected():
    assert resolution_refusal(DriftKind.CHANGED, Resolution.CORRECT) is None
    for kind in (DriftKind.RENEWED, DriftKind.SUSPENDED_BY_MICROSOFT, DriftKind.UNKNOWN_TO_HUB):
        assert resolution_refusal(kind, Resolution.CORRECT) is not None
        assert resolution_refusal(kind, Resolution.ADOPT) is None
        assert resolution_refusal(kind, Resolution.IGNORE) is None


@given(st.integers(1, 300), st.booleans(), st.sampled_from(list(SubscriptionStatus)))
def test_a_drift_lists_exactly_the_fields_that_differ(quantity, auto_renew, status):
    pc = HUB.model_copy(update={"quantity": quantity, "auto_renew": auto_renew, "status": status})
    drift = classify(HUB, pc)
    differing = {
        f for f in ("status", "quantity", "auto_renew") if getattr(HUB, f) != getattr(pc, f)
    }
    if not differing:
        assert drift is None
    else:
        assert drift is not None
        assert set(drift.fields) == differing
