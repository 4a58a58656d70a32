"""Progress of a long operator command: done / total and rate, so nobody wonders if it hangs.

On a terminal one line is rewritten in place (at most ten times a second); otherwise
(a log, a pipe) a plain line is printed every few seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self,
        label: str,
        out: TextIO | None = None,
        *,
        tty: bool | None = None,
        plain_every: float = 5.0,
    ):
        self._label = label
        self._out = out or sys.stderr
        self._tty = self._out.isatty() if tty is None else tty
        self._every = 0.1 if self._tty else plain_every
        self._started = time.monotonic()
        self._shown_at = 0.0
        self._done = 0
        self._total: int | None = None

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = self._done / elapsed
        if self._total:
            share = min(self._done / self._total, 1.0)
            counted = f"{self._done}/{self._total} ({share:.0%})"
        else:
            counted = str(self._done)
        return f"{self._label}: {counted} events, {rate:,.0f}/s, {elapsed:.1f}s"

    def update(self, done: int, total: int | None = None) -> None:
        self._done, self._total = done, total if total is not None else self._total
        now = time.monotonic()
        if now - self._shown_at >= self._every:
            self._shown_at = now
            self._show()

    def finish(self) -> None:
        self._show()
        if self._tty:
            self._out.write("\n")
        self._out.flush()

    def _show(self) -> None:
        if self._tty:
            self._out.write("\r\x1b[2K" + self.line())
        else:
            self._out.write(self.line() + "\n")
        self._out.flush()
