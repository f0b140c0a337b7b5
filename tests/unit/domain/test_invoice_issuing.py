"""Who invoices whom: the white-label reseller its customer, else the distributor the reseller."""

from __future__ import annotations

import pytest

from hub.domain.enums import BillingMode, SupportMode
from hub.domain.invoicing import Distributor, issuing
from hub.domain.reference import Brand, Customer, ResellerProfile
from hub.errors import ValidationFailed

DISTRIBUTOR = Distributor(party_id="5000000", name="Distributor GmbH", country="DE")
CUSTOMER = Customer(
    customer_id="cust-fr",
    reseller_id="fab",
    name="Client SA",
    country="FR",
    region="idf",
    language="fr",
    currency="EUR",
)


def reseller(mode: BillingMode) -> ResellerProfile:
    return ResellerProfile(
        reseller_id="fab",
        partner_id="7654321",
        name="Fabrikam SARL",
        country="BE",
        currency="EUR",
        languages=("nl", "fr"),
        billing_mode=mode,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=1,
        payment_terms_days=14,
        brand=Brand(display_name="Fabrikam", signature="Fab", reply_to="b@fab.be"),
    )


def test_a_white_label_invoice_is_the_resellers_to_its_customer_taxed_where_the_customer_is() -> (
    None
):
    how = issuing(reseller(BillingMode.DISTRIBUTOR_WHITE_LABEL), CUSTOMER, DISTRIBUTOR)
    assert (how.issuer.party_id, how.recipient.party_id) == ("fab", "cust-fr")
    assert (how.tax_country, how.tax_region, how.resale_exempt) == ("FR", "idf", False)
    assert (how.language, how.series, how.prefix) == ("fr", "fab:white-label", "FAB")


def test_otherwise_the_distributor_invoices_the_reseller_in_one_series_per_account() -> None:
    how = issuing(reseller(BillingMode.RESELLER_BILLS), None, DISTRIBUTOR)
    assert (how.issuer.party_id, how.recipient.party_id) == ("5000000", "fab")
    assert (how.tax_country, how.resale_exempt, how.language) == ("BE", True, "nl")
    assert (how.series, how.prefix) == ("5000000:fab", "D5000000-FAB")


def test_a_white_label_invoice_without_its_customer_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="needs its customer"):
        issuing(reseller(BillingMode.DISTRIBUTOR_WHITE_LABEL), None, DISTRIBUTOR)
