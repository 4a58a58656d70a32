"""Client addresses for login tests. The gateway trusts X-Forwarded-For from 127.0.0.1,
and failed logins are counted per address: every test that fails a login sends its
own address, so no test (or second run of the suite) inherits another's failures."""

from __future__ import annotations

import secrets


def unique_address() -> str:
    """A random address in 10.0.0.0/8 (16 million of them: no reuse within a window)."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


def from_address(address: str | None = None) -> dict[str, str]:
    """Headers that make the gateway see the request coming from `address`."""
    return {"x-forwarded-for": address or unique_address()}
