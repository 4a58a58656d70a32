"""Log lines carry the request id of the message being handled."""

from __future__ import annotations

import logging

from broker.consumer import current_envelope


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        envelope = current_envelope.get()
        record.request_id = (envelope.request_id if envelope else None) or "-"
        return True


def configure(level: str, service: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)s {service} [%(request_id)s] %(name)s: %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
