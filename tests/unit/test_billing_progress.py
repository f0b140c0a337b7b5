"""What ``hub billing close --wait`` makes of the events it reads."""

from __future__ import annotations

from datetime import date

from hub.commands.billing_progress import CloseProgress
from hub.schemas.events import billing as b
from hub.streams.billing.documents import envelope, fanned_out
from tests.support.samples import sample


def _run() -> b.BillingRunRequested:
    run = sample("BillingRunRequested")
    assert isinstance(run, b.BillingRunRequested)
    return run


def _done(
    run: b.BillingRunRequested, rid: str, invoices: int, **over: object
) -> b.BillingRunCompleted:
    mine = fanned_out(run, rid)
    return b.BillingRunCompleted.model_validate(
        {
            **envelope(mine, "BillingRunCompleted"),
            "reseller_id": rid,
            "run_event_id": str(mine.event_id),
            "period": "2026-11",
            "pages": 4,
            "subscriptions_cycled": 10,
            "charges_rated": 12,
            "invoices_issued": invoices,
            "credit_notes_issued": 0,
            "totals": [{"currency": "EUR", "invoiced_minor": 1234 * invoices, "credited_minor": 0}],
            **over,
        }
    )


def test_progress_counts_each_resellers_completion_of_this_close_once() -> None:
    run = _run()
    progress = CloseProgress(run, ["contoso", "fabrikam"])
    other = _run().model_copy(update={"event_id": _done(run, "x", 1).event_id})
    assert progress.see(_done(other, "contoso", 9)) is None  # another close's
    assert progress.see(_done(run, "contoso", 1)) is not None
    assert progress.see(_done(run, "contoso", 1)) is None  # read again
    assert not progress.finished
    assert progress.waiting_for() == ["fabrikam"]
    progress.see(_done(run, "fabrikam", 3))
    assert progress.finished
    summary = progress.summary(12.0)
    assert summary[0] == (
        "close 2026-11 done for 2 resellers in 12.0 s: 4 invoices, 0 credit notes, 24 charges rated"
    )
    assert summary[1] == "  EUR: invoiced 49.36 EUR, credited 0.00 EUR"


def test_a_reseller_closed_before_is_named_in_the_summary() -> None:
    run = _run()
    progress = CloseProgress(run, ["contoso"])
    progress.see(_done(run, "contoso", 0, already_closed_by="an-earlier-run", totals=[]))
    assert progress.finished
    assert progress.summary(1.0)[-1] == ("  closed before by another run (nothing issued): contoso")
    assert date(2026, 12, 1) == run.as_of
