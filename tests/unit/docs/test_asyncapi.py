"""The partners' AsyncAPI document: generated from the catalogue, checked in, valid AsyncAPI 3.0."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from hub.asyncapi import AVRO_FORMAT, HEADERS, asyncapi_document, render
from hub.runtime.pipeline import event_headers
from hub.topics import PartnerTopic, Topic, TopicCatalog, reseller_events
from tests.support.hub_cli import explain, hub, user_env
from tests.support.samples import sample

ROOT = Path(__file__).parents[3]
CHECKED_IN = ROOT / "docs" / "asyncapi.yaml"
CHECKER = ROOT / "docs" / "asyncapi-check"


def test_the_checked_in_document_is_what_the_catalogue_generates() -> None:
    assert CHECKED_IN.read_text(encoding="utf-8") == render(asyncapi_document()), (
        "docs/asyncapi.yaml is out of date: run `hub docs asyncapi -o docs/asyncapi.yaml`"
    )


def test_a_reseller_sends_to_its_ingress_topics_and_receives_from_its_partner_topics() -> None:
    doc = asyncapi_document()
    sends = {
        doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]: {
            m["$ref"].rsplit("/", 1)[1] for m in op["messages"]
        }
        for op in doc["operations"].values()
        if op["action"] == "send"
    }
    receives = {
        doc["channels"][op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]: {
            m["$ref"].rsplit("/", 1)[1] for m in op["messages"]
        }
        for op in doc["operations"].values()
        if op["action"] == "receive"
    }
    assert sends["reseller.{reseller}.orders"] == set(reseller_events(Topic.ORDERS))
    assert sends["reseller.{reseller}.tickets"] == {"TicketOpened", "TicketUpdated"}
    assert len(sends) == 4
    partner = TopicCatalog().for_reseller("R-1")
    assert receives == {
        spec.name.replace("R-1", "{reseller}"): set(spec.events) for spec in partner
    }
    assert len(receives) == len(PartnerTopic)
    for channel in doc["channels"].values():
        assert "{reseller}" in channel["address"]
        assert channel["parameters"] == {"reseller": {"$ref": "#/components/parameters/reseller"}}


def test_payloads_are_the_avro_contracts_and_keys_name_the_partitioner() -> None:
    doc = asyncapi_document()
    order = doc["components"]["schemas"]["OrderRequested"]
    assert order["schemaFormat"] == AVRO_FORMAT
    assert order["schema"]["name"] == "OrderRequested"
    assert order["schema"]["namespace"] == "hub.events"
    ingress = doc["channels"]["resellerOrders"]["messages"]["OrderRequested"]
    key = ingress["bindings"]["kafka"]["key"]
    assert key["type"] == "string"
    assert "reseller id" in key["description"]
    assert ingress["bindings"]["kafka"]["x-partitioner"] == "murmur2"
    assert "headers" not in ingress  # the reseller's producer sets none
    status = doc["channels"]["partnerStatus"]
    assert status["bindings"]["kafka"]["partitions"] == 3
    assert set(status["messages"]["IngressRejected"]["headers"]["required"]) == set(HEADERS)


def test_the_documented_headers_are_the_ones_the_hub_sets() -> None:
    written = [name for name, _ in event_headers(sample("OrderAccepted"))]
    assert written == list(HEADERS)


@pytest.fixture(scope="module")
def validate() -> Callable[[object], subprocess.CompletedProcess[str]]:
    """Runs docs/asyncapi-check/validate.mjs on a document (npm ci first, as .ci/run does)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("validating needs node and npm (for @asyncapi/specs); .ci/run installs them")
    if not (CHECKER / "node_modules" / "@asyncapi" / "specs").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(CHECKER)],
            check=True,
            capture_output=True,
            timeout=300,
        )

    def run(document: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [node, str(CHECKER / "validate.mjs")],
            input=json.dumps(document),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def test_the_document_is_valid_asyncapi_3(
    validate: Callable[[object], subprocess.CompletedProcess[str]],
) -> None:
    result = validate(yaml.safe_load(CHECKED_IN.read_text(encoding="utf-8")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "valid AsyncAPI 3.0.0"


def test_the_validator_refuses_a_broken_document(
    validate: Callable[[object], subprocess.CompletedProcess[str]],
) -> None:
    """The check above can fail: an operation without its action is not AsyncAPI."""
    document = asyncapi_document()
    del document["operations"]["sendOrders"]["action"]
    result = validate(document)
    assert result.returncode == 1
    assert "/operations/sendOrders" in result.stdout


def test_hub_docs_asyncapi_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "asyncapi.yaml"
    result = hub("docs", "asyncapi", "-o", str(target), env=user_env(tmp_path))
    assert result.returncode == 0, explain(result)
    assert target.read_text(encoding="utf-8") == CHECKED_IN.read_text(encoding="utf-8")
    printed = hub("docs", "asyncapi", env=user_env(tmp_path))
    assert printed.stdout == target.read_text(encoding="utf-8")
