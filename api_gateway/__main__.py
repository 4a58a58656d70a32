"""Run the gateway: `python -m api_gateway` (uvicorn with uvloop on GATEWAY_PORT)."""

from __future__ import annotations

import logging

import uvicorn

from api_gateway.app import create_app
from api_gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s gateway %(name)s: %(message)s",
    )
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.gateway_port,
        loop="uvloop",
        http="httptools" if _has_httptools() else "h11",
        access_log=False,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )


def _has_httptools() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
