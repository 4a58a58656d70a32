"""Serve a baseline exactly as `python -m api_gateway` serves the gateway: uvicorn with
uvloop and httptools, proxy headers, no access log (the apps add the gateway's
request-id middleware themselves)."""

from __future__ import annotations

import logging
import os

import uvicorn
from starlette.applications import Starlette


def run(app: Starlette, port_variable: str, default_port: int) -> None:
    level = os.environ.get("LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s baseline %(name)s: %(message)s"
    )
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    uvicorn.run(
        app,
        host=os.environ.get("BIND_HOST", "127.0.0.1"),
        port=int(os.environ.get(port_variable, str(default_port))),
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=True,
        log_level=level.lower(),
    )
