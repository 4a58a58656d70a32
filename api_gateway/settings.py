"""The gateway's settings: environment variables, read once at start."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "itemx-development-secret-do-not-use-in-production"  # noqa: S105


class InsecureConfiguration(RuntimeError):
    """Production mode with a development secret or a short secret."""


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    itemx_env: str = "development"
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_ttl_seconds: int = 24 * 3600
    bind_host: str = "0.0.0.0"
    gateway_port: int = 5000
    rpc_timeout_seconds: float = 5.0
    query_timeout_seconds: float = 3.0
    purchase_wait_seconds: float = 4.0
    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"

    @property
    def production(self) -> bool:
        return self.itemx_env.lower() in ("production", "prod")

    def check(self) -> None:
        """Refuse to run production with a secret anyone can read in this repository."""
        if self.production and (
            self.jwt_secret == DEVELOPMENT_JWT_SECRET or len(self.jwt_secret.encode()) < 32
        ):
            raise InsecureConfiguration(
                "ITEMX_ENV=production needs JWT_SECRET set to at least 32 random bytes"
            )
