"""Progress goes to stderr only when it is a terminal: scripts and log files get none."""

from __future__ import annotations

import io

from hub.commands.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_pipe_gets_no_progress() -> None:
    pipe = io.StringIO()
    with Progress("topics", 3, stream=pipe) as meter:
        for done in range(1, 4):
            meter.update(done)
        meter.line("free text")
    assert pipe.getvalue() == ""


def test_a_terminal_gets_one_line_rewritten_in_place_and_ended() -> None:
    tty = _Terminal()
    now = [0.0]
    with Progress("topics", 4, stream=tty, every_s=1.0, clock=lambda: now[0]) as meter:
        meter.update(1)
        meter.update(2)  # within every_s: not drawn
        now[0] = 2.0
        meter.update(3, "reseller.acme.orders")
        meter.update(4)  # the end is always drawn
    out = tty.getvalue()
    assert out.count("\r") == 3
    assert "hub: topics: 1/4 (25%)" in out
    assert "2/4" not in out
    assert "hub: topics: 3/4 (75%) reseller.acme.orders" in out
    assert out.endswith("\n")
    *_, before, last = out.rstrip("\n").split("\r")
    # The last line covers the longer one before it: no stale characters are left.
    assert last.rstrip() == "hub: topics: 4/4 (100%)"
    assert len(last) == len(before)
