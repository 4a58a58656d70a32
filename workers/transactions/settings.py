"""The transactions worker's own settings (on top of every worker's): the saga's timing
and the test-only crash switch. Read once at start, passed down."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SagaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    saga_step_timeout_seconds: float = 5.0
    """A step whose reply has not come in this long is sent again (doubling, up to 8x)."""
    saga_sweep_interval_seconds: float = 1.0
    """How often the sweeper looks for sagas that stopped moving."""
    saga_sweep_batch: int = 200
    itemx_crash_after: str = ""
    """Test only: the saga step after whose persisted state the worker SIGKILLs itself
    (start, reserve, debit, credit, record, mark_sold, refund, release)."""
