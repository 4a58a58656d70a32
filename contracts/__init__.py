"""Every message ItemExchange sends: commands, queries, replies, events, errors.

A leaf package: it imports pydantic and the standard library only, so the gateway and
the workers can share it without an import cycle.
"""

from contracts.base import Command, Event, Message, Query, Reply, message_type
from contracts.errors import ErrorCode, ErrorReply, Refusal

__all__ = [
    "Command",
    "ErrorCode",
    "ErrorReply",
    "Event",
    "Message",
    "Query",
    "Refusal",
    "Reply",
    "message_type",
]
