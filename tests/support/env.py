"""Where the test suite's services are: its own database and RabbitMQ vhost, and its own
ports, so that it never touches a `make run` instance on the same machine. Override
with ITEMX_TEST_DB, ITEMX_TEST_VHOST, ITEMX_TEST_PORT_BASE (e.g. to run two suites)."""

from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import quote

TEST_DB = os.environ.get("ITEMX_TEST_DB", "itemx_test")
VHOST = os.environ.get("ITEMX_TEST_VHOST", "itemx_test")
PORT_BASE = int(os.environ.get("ITEMX_TEST_PORT_BASE", "15000"))
PG_SERVER = os.environ.get("ITEMX_TEST_PG", "postgresql://postgres:postgres@127.0.0.1:5432")
AMQP_SERVER = os.environ.get("ITEMX_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")

DATABASE_URL = f"{PG_SERVER}/{TEST_DB}"

PORTS = {
    "gateway": PORT_BASE,
    "accounts": PORT_BASE + 1,
    "products": PORT_BASE + 2,
    "transactions": PORT_BASE + 3,
}


def ensure_vhost() -> str:
    """Create the suite's vhost afresh (rabbitmqctl, on this machine) and return its AMQP
    URL: every run starts from the topology the code declares, with empty queues."""
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        return f"{AMQP_SERVER}/"
    subprocess.run([rabbitmqctl, "-q", "delete_vhost", VHOST], capture_output=True, check=False)
    subprocess.run([rabbitmqctl, "-q", "add_vhost", VHOST], capture_output=True, check=False)
    subprocess.run(
        [rabbitmqctl, "-q", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
        capture_output=True,
        check=True,
    )
    return f"{AMQP_SERVER}/{quote(VHOST, safe='')}"


def rabbitmqctl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
