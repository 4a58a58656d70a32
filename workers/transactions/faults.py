"""The test-only crash switch: `ITEMX_CRASH_AFTER=<point>` makes the transactions worker
kill itself (SIGKILL: no cleanup, no ack) right after a saga persisted that point, so
the fault tests can check that a restarted worker finishes or compensates every saga."""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

CRASH_POINTS = frozenset(
    {"start", "reserve", "debit", "credit", "record", "mark_sold", "refund", "release"}
)


class CrashSwitch:
    def __init__(self, point: str = ""):
        if point and point not in CRASH_POINTS:
            raise ValueError(f"ITEMX_CRASH_AFTER must be one of {sorted(CRASH_POINTS)}")
        self.point = point

    def after(self, point: str) -> None:
        """Die here when this is the configured point; a no-op in production."""
        if self.point and point == self.point:
            log.error("ITEMX_CRASH_AFTER=%s: killing this worker now", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)
