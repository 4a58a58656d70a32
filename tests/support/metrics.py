"""Reading a worker's /metrics (Prometheus text) in tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def sample_value(base_url: str, sample: str, **labels: str) -> float:
    """The value of one sample (e.g. `itemx_messages_total`) with these labels, 0 if absent."""
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        response = await client.get("/metrics")
    response.raise_for_status()
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                total += found.value
    return total
