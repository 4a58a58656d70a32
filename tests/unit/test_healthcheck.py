"""The container health check (`python -m ops.healthcheck`): healthy only on a 200 from
`/health`, and without arguments it finds whichever process listens in the container."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops import healthcheck


@contextmanager
def health_server(status: int) -> Iterator[int]:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            self.send_response(status if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b'{"status": "unavailable", "checks": {"database": "failed"}}')

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_200_is_healthy() -> None:
    with health_server(200) as port:
        assert healthcheck.main([f"http://127.0.0.1:{port}/health"]) == 0


def test_a_503_is_unhealthy_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    with health_server(503) as port:
        assert healthcheck.main([f"http://127.0.0.1:{port}/health"]) == 1
    assert "503" in capsys.readouterr().err


def test_without_arguments_it_asks_the_configured_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with health_server(200) as port:
        monkeypatch.setenv("PRODUCTS_PORT", str(port))
        assert f"http://127.0.0.1:{port}/health" in healthcheck.candidate_urls()
        assert healthcheck.main([]) == 0
