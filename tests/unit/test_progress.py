"""The replay's progress display: one line rewritten in place on a terminal, plain lines
(not too many) in a log."""

from __future__ import annotations

import io

from ops.progress import Progress


def test_a_terminal_gets_one_rewritten_line() -> None:
    out = io.StringIO()
    progress = Progress("replay reports", out, tty=True)
    for done in range(1, 1001):
        progress.update(done, 1000)
    progress.finish()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.startswith("\r\x1b[2K")
    assert "replay reports: 1000/1000 (100%) events" in text.rsplit("\r", 1)[-1]


def test_a_log_gets_plain_lines_every_few_seconds() -> None:
    out = io.StringIO()
    progress = Progress("replay reports", out, tty=False, plain_every=60)
    for done in range(1, 1001):
        progress.update(done)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, "the first update and the final line, nothing in between"
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert lines[0].startswith("replay reports: 1 events")
    assert lines[-1].startswith("replay reports: 1000 events") and "/s" in lines[-1]
