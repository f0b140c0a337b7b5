"""Why a ticket waits: the reason an escalation held for GDAP gives its SLA events."""

from __future__ import annotations

from hub.domain.relationships.gdap import SERVICE_SUPPORT_ADMINISTRATOR
from hub.domain.support.waiting import GDAP_SUPPORT_ROLE, gdap_role_wait


def test_a_gdap_wait_names_the_customer_and_the_role_to_approve() -> None:
    wait = gdap_role_wait("Contoso GmbH", SERVICE_SUPPORT_ADMINISTRATOR)

    assert wait.waiting_for == GDAP_SUPPORT_ROLE == "gdap_support_role"
    assert "Contoso GmbH" in wait.text
    assert "Service Support Administrator" in wait.text
    assert "\n" not in wait.text


def test_a_role_without_a_display_name_is_named_by_its_id() -> None:
    wait = gdap_role_wait("Fabrikam", "role-without-a-name")

    assert "role-without-a-name" in wait.text
