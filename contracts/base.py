"""The base classes of every message and the registry from a message name to its model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID, uuid4

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_REGISTRY: dict[str, type[Message]] = {}


def _no_nul_or_surrogate(value: str) -> str:
    """PostgreSQL text cannot hold NUL, and a lone surrogate cannot be encoded."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid unicode (no lone surrogates)") from exc
    return value


Text = Annotated[str, AfterValidator(_no_nul_or_surrogate)]
"""A string that PostgreSQL can store: no NUL bytes, no lone surrogates."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """A message on the wire. `name` is its routing key and AMQP type; `version` its schema."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ClassVar[str] = ""
    version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name:
            if name in _REGISTRY and _REGISTRY[name].__qualname__ != cls.__qualname__:
                raise TypeError(f"message name {name!r} is used twice")
            _REGISTRY[name] = cls


class Reply(Message):
    """The result of a command or query, sent back to the caller."""


class Command(Message):
    """An order to change state. Sent persistent, with publisher confirms, to a quorum queue."""

    reply: ClassVar[type[Reply] | None] = None


class Query(Message):
    """A read. Sent transient with a short expiry: losing one only costs the caller a retry."""

    reply: ClassVar[type[Reply] | None] = None


class Event(Message):
    """A fact that happened, published through an outbox to `itemx.events`.

    Events are the public, versioned contract with subscribers: the body carries its
    own `type` and `version`, so a consumer of the stream needs nothing but the body.
    """

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)

    def body(self) -> dict[str, Any]:
        """The published JSON document: type and version first, then the fields."""
        return {"type": self.name, "version": self.version, **self.model_dump(mode="json")}

    @classmethod
    def from_body(cls, document: dict[str, Any]) -> Event:
        fields = {k: v for k, v in document.items() if k not in ("type", "version")}
        return cls.model_validate(fields)


def message_type(name: str) -> type[Message] | None:
    """The model registered under a message name, or None for an unknown name."""
    return _REGISTRY.get(name)


def registered() -> dict[str, type[Message]]:
    return dict(_REGISTRY)
