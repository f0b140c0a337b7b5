"""The reliability checker: did a run give every input exactly one outcome and exact money?

Pure checks over what a test knows it sent (``Input``) and what it read back (``Output``,
``DeadLetter``, table states); the ``read_*`` helpers read topics with a ``read_committed``
consumer (``hub.connectors.kafka_io.read_all``) and turn records into those values.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hub.connectors.kafka_io import Record, read_all
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event

# How many examples of each kind of violation a report spells out (the counts are complete).
_EXAMPLES = 10


class Expect(StrEnum):
    """What outcome an input must have; ``ANY`` accepts either (fuzzed input)."""

    OUTPUT = "output"
    DEAD_LETTER = "dead_letter"
    ANY = "any"


@dataclass(frozen=True)
class Input:
    """One event the test sent: its id, the key money is summed under, the money it carries."""

    input_id: str
    key: str
    amount_minor: int = 0
    expect: Expect = Expect.OUTPUT


@dataclass(frozen=True)
class Output:
    """One output record: its event id, its cause, and the money it moves.

    ``identity`` is the business identity of the effect (charge id, allocation id): two distinct
    event ids with one identity are one effect applied twice. ``group`` ties allocation lines to
    their approval (credit id). ``fingerprint`` is a digest of the record's bytes.
    """

    event_id: str
    cause_id: str
    key: str
    amount_minor: int
    identity: str
    fingerprint: str = ""
    group: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    cause_id: str | None
    reason: str


class Rule(StrEnum):
    NO_OUTCOME = "no_outcome"
    TWO_OUTCOMES = "output_and_dead_letter"
    WRONG_OUTCOME = "wrong_outcome"
    UNKNOWN_CAUSE = "unknown_cause"
    CONFLICTING_CONTENT = "same_event_id_different_content"
    DUPLICATE_EFFECT = "duplicate_effect"
    KEY_SUM = "key_sum_mismatch"
    GLOBAL_SUM = "global_sum_mismatch"
    ALLOCATION_SUM = "allocation_sum_mismatch"
    STATE = "state_mismatch"


@dataclass(frozen=True)
class Violation:
    rule: Rule
    subject: str
    detail: str


@dataclass
class Report:
    """Everything the checker found. ``redelivered`` counts identical copies (allowed)."""

    violations: list[Violation] = field(default_factory=list)
    redelivered: dict[str, int] = field(default_factory=dict)
    outputs: int = 0
    dead_letters: int = 0
    inputs: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def of(self, rule: Rule) -> list[Violation]:
        return [v for v in self.violations if v.rule is rule]

    @property
    def duplicates(self) -> list[str]:
        """Subjects (identities or event ids) seen more than once with more than one effect."""
        return [
            v.subject
            for v in self.violations
            if v.rule in (Rule.DUPLICATE_EFFECT, Rule.CONFLICTING_CONTENT)
        ]

    def extend(self, other: Report) -> Report:
        self.violations += other.violations
        self.redelivered.update(other.redelivered)
        self.outputs += other.outputs
        self.dead_letters += other.dead_letters
        self.inputs += other.inputs
        return self

    def summary(self) -> str:
        counts = Counter(v.rule for v in self.violations)
        head = (
            f"{self.inputs} inputs, {self.outputs} distinct outputs, "
            f"{self.dead_letters} dead letters, {sum(self.redelivered.values())} identical "
            f"redeliveries; violations: "
            + (", ".join(f"{rule.value}={n}" for rule, n in sorted(counts.items())) or "none")
        )
        lines = [head]
        for rule in sorted(counts):
            lines += [
                f"  {v.rule.value} {v.subject}: {v.detail}" for v in self.of(rule)[:_EXAMPLES]
            ]
        return "\n".join(lines)

    def assert_ok(self) -> None:
        if not self.ok:
            raise AssertionError(self.summary())


def fingerprint(value: bytes | None) -> str:
    return hashlib.sha256(value or b"").hexdigest()[:16]


def check_outcomes(
    inputs: Sequence[Input], outputs: Iterable[Output], dead_letters: Iterable[DeadLetter]
) -> Report:
    """One outcome per input, no conflicting or duplicated effects, exact per-key/global sums."""
    report = Report(inputs=len(inputs))
    by_id = {i.input_id: i for i in inputs}
    distinct = _distinct(list(outputs), report)
    report.outputs = len(distinct)
    produced: dict[str, list[Output]] = defaultdict(list)
    for out in distinct.values():
        if out.cause_id not in by_id:
            report.violations.append(
                Violation(Rule.UNKNOWN_CAUSE, out.event_id, f"caused by unknown {out.cause_id}")
            )
            continue
        produced[out.cause_id].append(out)
    dead: dict[str, list[DeadLetter]] = defaultdict(list)
    for letter in dead_letters:
        report.dead_letters += 1
        if letter.cause_id is None or letter.cause_id not in by_id:
            report.violations.append(
                Violation(Rule.UNKNOWN_CAUSE, str(letter.cause_id), f"dead letter: {letter.reason}")
            )
            continue
        dead[letter.cause_id].append(letter)
    _one_outcome_each(inputs, produced, dead, report)
    _duplicate_effects(distinct.values(), report)
    _sums(inputs, produced, dead, report)
    return report


def _distinct(outputs: list[Output], report: Report) -> dict[str, Output]:
    """Outputs by event id; an identical copy is a redelivery, a different one a violation."""
    first: dict[str, Output] = {}
    for out in outputs:
        seen = first.get(out.event_id)
        if seen is None:
            first[out.event_id] = out
        elif seen == out:
            report.redelivered[out.event_id] = report.redelivered.get(out.event_id, 0) + 1
        else:
            report.violations.append(
                Violation(
                    Rule.CONFLICTING_CONTENT,
                    out.event_id,
                    f"{seen.amount_minor}/{seen.fingerprint} vs {out.amount_minor}/"
                    f"{out.fingerprint}",
                )
            )
    return first


def _one_outcome_each(
    inputs: Sequence[Input],
    produced: Mapping[str, list[Output]],
    dead: Mapping[str, list[DeadLetter]],
    report: Report,
) -> None:
    for item in inputs:
        outs, letters = produced.get(item.input_id, []), dead.get(item.input_id, [])
        if not outs and not letters:
            report.violations.append(Violation(Rule.NO_OUTCOME, item.input_id, "nothing"))
        elif outs and letters:
            report.violations.append(
                Violation(
                    Rule.TWO_OUTCOMES,
                    item.input_id,
                    f"{len(outs)} outputs and dead-lettered: {letters[0].reason}",
                )
            )
        if len(letters) > 1:
            # At least once: a crash between the dead letter and the commit repeats it.
            report.redelivered[f"dlq:{item.input_id}"] = len(letters) - 1
        actual = Expect.OUTPUT if outs else Expect.DEAD_LETTER
        if (outs or letters) and item.expect not in (Expect.ANY, actual):
            why = letters[0].reason if letters else f"{len(outs)} outputs"
            report.violations.append(
                Violation(Rule.WRONG_OUTCOME, item.input_id, f"expected {item.expect}: {why}")
            )


def _duplicate_effects(outputs: Iterable[Output], report: Report) -> None:
    ids: dict[str, list[str]] = defaultdict(list)
    for out in outputs:
        ids[out.identity].append(out.event_id)
    for identity, event_ids in ids.items():
        if len(event_ids) > 1:
            report.violations.append(
                Violation(
                    Rule.DUPLICATE_EFFECT,
                    identity,
                    f"{len(event_ids)} event ids: {', '.join(sorted(event_ids)[:3])}",
                )
            )


def _sums(
    inputs: Sequence[Input],
    produced: Mapping[str, list[Output]],
    dead: Mapping[str, list[DeadLetter]],
    report: Report,
) -> None:
    expected: Counter[str] = Counter()
    actual: Counter[str] = Counter()
    for item in inputs:
        # An input that may be refused carries no money when it was.
        refused = item.expect is not Expect.OUTPUT and item.input_id in dead
        if item.expect is not Expect.DEAD_LETTER and not refused:
            expected[item.key] += item.amount_minor
        for out in produced.get(item.input_id, []):
            actual[out.key] += out.amount_minor
    for key in sorted(set(expected) | set(actual)):
        if expected[key] != actual[key]:
            report.violations.append(
                Violation(Rule.KEY_SUM, key, f"expected {expected[key]}, got {actual[key]}")
            )
    total_expected, total_actual = sum(expected.values()), sum(actual.values())
    if total_expected != total_actual:
        report.violations.append(
            Violation(Rule.GLOBAL_SUM, "*", f"expected {total_expected}, got {total_actual}")
        )


def check_allocations(approved: Mapping[str, int], outputs: Iterable[Output]) -> Report:
    """Distinct allocation lines of each approval (``group``) sum exactly to its approved amount."""
    report = Report()
    allocated: Counter[str] = Counter()
    seen: set[str] = set()
    for out in outputs:
        if out.group is None or out.event_id in seen:
            continue
        seen.add(out.event_id)
        allocated[out.group] += out.amount_minor
    for group in sorted(set(approved) | set(allocated)):
        if approved.get(group) != allocated[group]:
            report.violations.append(
                Violation(
                    Rule.ALLOCATION_SUM,
                    group,
                    f"approved {approved.get(group)}, allocated {allocated[group]}",
                )
            )
    return report


def check_state(name: str, actual: Mapping[str, Any], expected: Mapping[str, Any]) -> Report:
    """A table's final state equals its recomputation from the inputs, key by key."""
    report = Report()
    for key in sorted(set(actual) | set(expected), key=str):
        if key not in actual:
            report.violations.append(Violation(Rule.STATE, f"{name}[{key}]", "missing"))
        elif key not in expected:
            report.violations.append(Violation(Rule.STATE, f"{name}[{key}]", "unexpected"))
        elif actual[key] != expected[key]:
            report.violations.append(
                Violation(
                    Rule.STATE,
                    f"{name}[{key}]",
                    f"{_short(actual[key])} != expected {_short(expected[key])}",
                )
            )
    return report


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:200] + "..."


# --- reading what a run left on the broker --------------------------------------------------

Extract = Callable[[Event, Record], Output | None]


async def read_outputs(bootstrap: str, topic: str, extract: Extract) -> list[Output]:
    """Every output on ``topic`` (committed records only), as ``extract`` sees it."""
    codec = Codec()
    outputs = []
    for record in await read_all(bootstrap, topic, timeout_s=120):
        if record.value is None:
            continue
        out = extract(codec.decode(record.value), record)
        if out is not None:
            outputs.append(out)
    return outputs


def header(record: Record, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def dead_letter_of(record: Record) -> DeadLetter:
    """The cause (the original's ``hub.event-id`` header, else its key) and the reason."""
    cause = header(record, "hub.event-id")
    if cause is None and record.key is not None:
        cause = record.key.decode("utf-8", "replace")
    reason = f"{header(record, 'dlq.error.type')}: {header(record, 'dlq.error.message')}"
    return DeadLetter(cause, reason)


async def read_dead_letters(bootstrap: str, topics: Iterable[str]) -> list[DeadLetter]:
    letters = []
    for topic in topics:
        letters += [dead_letter_of(r) for r in await read_all(bootstrap, topic, timeout_s=120)]
    return letters


async def read_table(bootstrap: str, changelog_topic: str) -> dict[str, Any]:
    """A faust table rebuilt from its changelog: last value per key wins, a tombstone deletes."""
    state: dict[str, Any] = {}
    records = await read_all(bootstrap, changelog_topic, timeout_s=120)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        if record.key is None:
            continue
        key = _json_or_text(record.key)
        if record.value is None:
            state.pop(str(key), None)
        else:
            state[str(key)] = json.loads(record.value)
    return state


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")
