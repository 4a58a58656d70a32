"""A worker's settings: environment variables, read once at start, passed down."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql://postgres:postgres@127.0.0.1:5432/itemx"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = DEFAULT_DATABASE_URL
    database_read_url: str | None = None
    """Optional read-only pool (Citus secondaries); never used to read one's own writes."""
    amqp_url: str = DEFAULT_AMQP_URL
    bind_host: str = "0.0.0.0"
    db_pool_min: int = 2
    db_pool_max: int = 10
    prefetch: int = 64
    log_level: str = "INFO"
    outbox_poll_seconds: float = 1.0
    bcrypt_rounds: int = 12
    login_window_seconds: int = 900
    login_max_failures_per_user: int = 5
    login_max_failures_per_address: int = 50
    accounts_port: int = 5001
    products_port: int = 5002
    transactions_port: int = 5003

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))
