"""The container's health check: `python -m ops.healthcheck [URL]`, exit 0 when healthy.

Given a URL, it asks that one. Without one (the image's default HEALTHCHECK, which
does not know which process the container runs) it asks `/health` on the port of every
ItemExchange process, as configured by the same environment variables the processes
read, and passes when the one listening answers 200. Standard library only: it runs
every few seconds.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORTS = {
    "GATEWAY_PORT": 5000,
    "ACCOUNTS_PORT": 5001,
    "PRODUCTS_PORT": 5002,
    "TRANSACTIONS_PORT": 5003,
}


def candidate_urls() -> list[str]:
    ports = {int(os.environ.get(name, default)) for name, default in DEFAULT_PORTS.items()}
    return [f"http://127.0.0.1:{port}/health" for port in sorted(ports)]


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via HTTP_PROXY


def healthy(url: str, timeout: float = 3.0) -> tuple[bool, str]:
    try:
        with _DIRECT.open(url, timeout=timeout) as response:
            return response.status == 200, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code} {exc.read(300).decode(errors='replace')}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{url}: {exc}"


def main(argv: list[str]) -> int:
    urls = argv or candidate_urls()
    answers = [healthy(url) for url in urls]
    if any(ok for ok, _ in answers):
        return 0
    print("; ".join(line for _, line in answers), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
