"""Production mode refuses to start with the development secret or a short one."""

from __future__ import annotations

import pytest

from api_gateway.app import create_app
from api_gateway.settings import DEVELOPMENT_JWT_SECRET, GatewaySettings, InsecureConfiguration

STRONG_SECRET = "k" * 16 + "0123456789abcdef"  # 32 bytes


@pytest.mark.parametrize("env", ["production", "prod", "PRODUCTION", "Prod"])
def test_production_refuses_the_development_secret(env: str) -> None:
    settings = GatewaySettings(itemx_env=env)
    assert settings.jwt_secret == DEVELOPMENT_JWT_SECRET
    with pytest.raises(InsecureConfiguration):
        settings.check()
    with pytest.raises(InsecureConfiguration):
        create_app(settings)


@pytest.mark.parametrize("secret", ["short", "x" * 31, "é" * 15])
def test_production_refuses_secrets_under_32_bytes(secret: str) -> None:
    settings = GatewaySettings(itemx_env="production", jwt_secret=secret)
    with pytest.raises(InsecureConfiguration):
        settings.check()
    with pytest.raises(InsecureConfiguration):
        create_app(settings)


def test_production_starts_with_a_strong_secret() -> None:
    settings = GatewaySettings(itemx_env="production", jwt_secret=STRONG_SECRET)
    settings.check()
    assert create_app(settings).router.routes


def test_development_accepts_the_development_secret() -> None:
    settings = GatewaySettings(itemx_env="development")
    settings.check()
    assert create_app(settings).router.routes


def test_the_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITEMX_ENV", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(InsecureConfiguration):
        create_app()
    monkeypatch.setenv("JWT_SECRET", STRONG_SECRET)
    monkeypatch.setenv("RPC_TIMEOUT_SECONDS", "1.5")
    settings = GatewaySettings()
    assert settings.production
    assert settings.rpc_timeout_seconds == 1.5
    create_app(settings)
