"""Ports of the processes that single tests start on their own (a gateway with other
settings, a worker behind a proxy): PORT_BASE+10 upward, one per role, never shared
with the session's stack (PORT_BASE..PORT_BASE+3)."""

from __future__ import annotations

from tests.support.env import PORT_BASE

OUTAGE_GATEWAY = PORT_BASE + 10
OUTAGE_WORKER = PORT_BASE + 11
TIMEOUT_GATEWAY = PORT_BASE + 12
DRAINING_WORKER = PORT_BASE + 13
RESTART_GATEWAY = PORT_BASE + 14
RESTART_WORKER = PORT_BASE + 15
DB_OUTAGE_WORKER = PORT_BASE + 16
