"""docs/partner-guide.md says what the catalogue and the code do: a change there fails here."""

from __future__ import annotations

import re
from pathlib import Path

from hub.asyncapi import HEADERS
from hub.connectors.schema_registry import subject_name
from hub.domain.ingress import Refusal
from hub.ops.local_kafka import kafka_version
from hub.schemas.catalog import default_catalog
from hub.streams.ingress import undecodable
from hub.topics import INGRESS, TopicCatalog, reseller_events

DOCS = Path(__file__).parents[3] / "docs"
GUIDE = (DOCS / "partner-guide.md").read_text(encoding="utf-8")
RESELLER = "R-1001"


def _row(first_cell: str) -> list[str]:
    """The cells of the table row whose first cell is ``first_cell``."""
    for line in GUIDE.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row for {first_cell} in the partner guide")


def _ticked(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def test_the_guide_lists_every_partner_topic_with_its_events() -> None:
    for spec in TopicCatalog().for_reseller(RESELLER):
        assert _ticked(_row(f"`{spec.name}`")[1]) == set(spec.events), spec.name


def test_the_guide_lists_every_ingress_topic_with_what_a_reseller_may_write() -> None:
    catalog = TopicCatalog()
    for topic in INGRESS:
        name = catalog.ingress(RESELLER, topic)
        assert _ticked(_row(f"`{name}`")[1]) == reseller_events(topic), name


def test_the_guide_names_the_registry_subjects_of_what_a_reseller_writes() -> None:
    contracts = default_catalog().contracts
    for topic in INGRESS:
        for event in reseller_events(topic):
            subject = subject_name("", contracts[event], "record")
            assert f"`{subject}`" in GUIDE, subject


def test_the_guide_names_the_headers_the_hub_sets() -> None:
    for header in HEADERS:
        _row(f"`{header}`")


def test_the_guide_names_every_rejection_code() -> None:
    codes = {r.value for r in Refusal}
    codes |= {undecodable.UNDECODABLE, undecodable.UNKNOWN_SCHEMA, undecodable.INVALID_EVENT}
    for code in codes:
        assert f"`{code}`" in GUIDE, code


def test_every_file_the_guide_links_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", GUIDE)
    assert "examples/python/produce_order.py" in links
    for link in links:
        assert (DOCS / link).exists(), link


def test_the_java_example_uses_the_brokers_kafka_client_version() -> None:
    pom = (DOCS / "examples" / "java" / "pom.xml").read_text(encoding="utf-8")
    assert f"<kafka.version>{kafka_version()}</kafka.version>" in pom
