"""Progress of a long command on stderr, only when stderr is a terminal.

A person watching gets one line rewritten in place (``hub: topics: 40/120 (33%)``); a script,
a pipe or a log file gets nothing, so what it reads stays the command's output and its one-line
outcome. ``hub billing close --wait``, and any command that waits on many things, use it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO


def on_terminal(stream: TextIO | None = None) -> bool:
    target = stream or sys.stderr
    try:
        return target.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class Progress:
    """One rewritten line: ``update(done)`` out of ``total``, or ``line(text)`` for free text."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        every_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.total = total
        self._stream = stream or sys.stderr
        self.enabled = on_terminal(self._stream)
        self._every_s = every_s
        self._clock = clock
        self._last = float("-inf")
        self._shown = False
        self._width = 0

    def update(self, done: int, note: str = "") -> None:
        """``done`` of ``total`` so far; drawn at most every ``every_s`` and at the end."""
        count = f"{done}/{self.total} ({100 * done // self.total}%)" if self.total else str(done)
        final = self.total is not None and done >= self.total
        self._draw(f"{self.what}: {count}{f' {note}' if note else ''}", force=final)

    def line(self, text: str) -> None:
        """Free text in place of the count (e.g. a close's resellers done, pages read)."""
        self._draw(text, force=True)

    def _draw(self, text: str, *, force: bool) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._last < self._every_s:
            return
        self._last = now
        shown = f"hub: {text}"
        pad = max(0, self._width - len(shown))
        self._stream.write(f"\r{shown}{' ' * pad}")
        self._stream.flush()
        self._width = len(shown)
        self._shown = True

    def close(self) -> None:
        """End the line, so what follows starts on its own."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
