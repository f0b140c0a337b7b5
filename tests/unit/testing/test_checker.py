"""The reliability checker on small hand-made runs: it passes clean ones and names every fault."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.connectors.kafka_io import Record
from tests.support.checker import (
    DeadLetter,
    Expect,
    Input,
    Output,
    Rule,
    check_allocations,
    check_outcomes,
    check_state,
    dead_letter_of,
)

INPUTS = [Input("i1", "r1", 100), Input("i2", "r1", 250), Input("i3", "r2", 40)]


def out(event_id: str, cause: str, key: str, amount: int, **kw: object) -> Output:
    return Output(event_id, cause, key, amount, identity=kw.pop("identity", f"c-{cause}"), **kw)  # type: ignore[arg-type]


def clean_outputs() -> list[Output]:
    return [out("e1", "i1", "r1", 100), out("e2", "i2", "r1", 250), out("e3", "i3", "r2", 40)]


def test_a_clean_run_passes() -> None:
    report = check_outcomes(INPUTS, clean_outputs(), [])
    assert report.ok, report.summary()
    assert report.outputs == 3


def test_an_identical_redelivery_is_counted_not_failed() -> None:
    report = check_outcomes(INPUTS, [*clean_outputs(), out("e1", "i1", "r1", 100)], [])
    assert report.ok, report.summary()
    assert report.redelivered == {"e1": 1}


def test_a_missing_outcome_fails() -> None:
    report = check_outcomes(INPUTS, clean_outputs()[:2], [])
    assert [v.subject for v in report.of(Rule.NO_OUTCOME)] == ["i3"]
    assert report.of(Rule.KEY_SUM)
    assert report.of(Rule.GLOBAL_SUM)


def test_output_and_dead_letter_for_one_input_fails() -> None:
    report = check_outcomes(INPUTS, clean_outputs(), [DeadLetter("i2", "Boom: x")])
    assert [v.subject for v in report.of(Rule.TWO_OUTCOMES)] == ["i2"]


def test_one_event_id_with_two_contents_fails() -> None:
    report = check_outcomes(INPUTS, [*clean_outputs(), out("e2", "i2", "r1", 251)], [])
    assert report.of(Rule.CONFLICTING_CONTENT)
    assert "e2" in report.duplicates


def test_a_second_effect_under_a_fresh_event_id_is_a_duplicate() -> None:
    # What a pipeline without deterministic ids does on redelivery.
    report = check_outcomes(INPUTS, [*clean_outputs(), out("e9", "i1", "r1", 100)], [])
    assert report.duplicates == ["c-i1"]
    assert [v.subject for v in report.of(Rule.KEY_SUM)] == ["r1"]
    assert report.of(Rule.GLOBAL_SUM)
    assert not report.ok


def test_money_moved_between_keys_fails_per_key_but_not_globally() -> None:
    outputs = [out("e1", "i1", "r1", 90), out("e2", "i2", "r1", 250), out("e3", "i3", "r2", 50)]
    report = check_outcomes(INPUTS, outputs, [])
    assert sorted(v.subject for v in report.of(Rule.KEY_SUM)) == ["r1", "r2"]
    assert not report.of(Rule.GLOBAL_SUM)


def test_an_expected_dead_letter_carries_no_money() -> None:
    inputs = [*INPUTS, Input("bad", "r1", 999, Expect.DEAD_LETTER)]
    report = check_outcomes(inputs, clean_outputs(), [DeadLetter("bad", "SchemaError: x")])
    assert report.ok, report.summary()


def test_a_good_input_dead_lettered_fails() -> None:
    report = check_outcomes(INPUTS, clean_outputs()[:2], [DeadLetter("i3", "Oops: y")])
    assert [v.subject for v in report.of(Rule.WRONG_OUTCOME)] == ["i3"]


def test_an_output_of_an_unknown_input_fails() -> None:
    report = check_outcomes(INPUTS, [*clean_outputs(), out("e4", "ghost", "r1", 0)], [])
    assert report.of(Rule.UNKNOWN_CAUSE)


def test_allocations_summing_to_the_approved_amount_pass() -> None:
    lines = [out(f"a{i}", "c", "r", 333, group="credit-1", identity=f"a{i}") for i in range(3)]
    lines.append(out("a3", "c", "r", 1, group="credit-1", identity="a3"))
    assert check_allocations({"credit-1": 1000}, lines).ok


def test_an_allocation_off_by_one_minor_unit_fails() -> None:
    lines = [out(f"a{i}", "c", "r", 333, group="credit-1", identity=f"a{i}") for i in range(3)]
    report = check_allocations({"credit-1": 1000}, lines)
    assert [v.subject for v in report.of(Rule.ALLOCATION_SUM)] == ["credit-1"]


def test_a_repeated_allocation_line_is_summed_once() -> None:
    line = out("a0", "c", "r", 1000, group="credit-1", identity="a0")
    assert check_allocations({"credit-1": 1000}, [line, line]).ok


def test_state_equal_to_its_recomputation_passes_and_any_difference_fails() -> None:
    expected = {"a": {"n": 1}, "b": 2}
    assert check_state("t", {"a": {"n": 1}, "b": 2}, expected).ok
    report = check_state("t", {"a": {"n": 2}, "c": 3}, expected)
    assert sorted(v.subject for v in report.of(Rule.STATE)) == ["t[a]", "t[b]", "t[c]"]


def test_dead_letter_names_its_cause_and_reason() -> None:
    record = Record(
        "x.dlq",
        0,
        7,
        b"k",
        b"raw",
        [
            ("hub.event-id", b"i1"),
            ("dlq.error.type", b"SchemaError"),
            ("dlq.error.message", b"truncated"),
        ],
    )
    assert dead_letter_of(record) == DeadLetter("i1", "SchemaError: truncated")
    assert dead_letter_of(Record("x.dlq", 0, 8, b"k2", b"", [])).cause_id == "k2"


@given(
    amounts=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=30),
    drop=st.integers(min_value=0),
    extra=st.integers(min_value=1, max_value=10**6),
)
def test_any_lost_or_doubled_output_is_caught(amounts: list[int], drop: int, extra: int) -> None:
    inputs = [Input(f"i{n}", f"r{n % 3}", a) for n, a in enumerate(amounts)]
    outputs = [out(f"e{n}", f"i{n}", f"r{n % 3}", a) for n, a in enumerate(amounts)]
    assert check_outcomes(inputs, outputs, []).ok
    victim = drop % len(outputs)
    lost = outputs[:victim] + outputs[victim + 1 :]
    assert check_outcomes(inputs, lost, []).of(Rule.NO_OUTCOME)
    doubled = [*outputs, out("dup", f"i{victim}", f"r{victim % 3}", amounts[victim])]
    assert check_outcomes(inputs, doubled, []).of(Rule.DUPLICATE_EFFECT)
    shifted = [*outputs[:-1]]
    shifted.append(
        Output(
            outputs[-1].event_id,
            outputs[-1].cause_id,
            outputs[-1].key,
            outputs[-1].amount_minor + extra,
            outputs[-1].identity,
        )
    )
    assert check_outcomes(inputs, shifted, []).of(Rule.GLOBAL_SUM)
