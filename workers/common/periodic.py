"""A chore a worker runs every so often beside its consumers (a clean-up, a prune)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Run `chore` every `interval` seconds until stopped; a failed run is logged and
    tried again at the next tick (a runtime `BackgroundTask`)."""

    def __init__(self, name: str, interval: float, chore: Callable[[], Awaitable[object]]):
        self.name = name
        self._interval = interval
        self._chore = chore
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._chore()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", self.name, self._interval)
