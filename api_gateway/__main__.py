"""Run the gateway: `python -m api_gateway` (uvicorn with uvloop on GATEWAY_PORT)."""

from __future__ import annotations

import logging

import uvicorn

from api_gateway.app import create_app, current_request_id
from api_gateway.settings import GatewaySettings


class RequestIdFilter(logging.Filter):
    """Every log line names the request it belongs to (`x-request-id`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def main() -> None:
    settings = GatewaySettings()
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s gateway [%(request_id)s] %(name)s: %(message)s"
        )
    )
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.gateway_port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )



if __name__ == "__main__":
    main()
