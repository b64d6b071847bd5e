"""Writing messages to the outbox, in the caller's transaction. Delivery is the bot core's job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage
from storage.upsert import insert_ignore


def as_payload(message: Any) -> dict[str, Any]:
    if isinstance(message, dict):
        return message
    dump = getattr(message, "model_dump", None)
    if dump is None:
        raise TypeError(f"not a message: {type(message).__name__}")
    return dict(dump(mode="json"))


async def enqueue(
    session: AsyncSession,
    *,
    now: datetime,
    channel: str,
    target_kind: str,
    target: str,
    message: Any,
    key: str,
) -> bool:
    """Queue one message. False when a message with the same idempotency key already exists."""
    return await insert_ignore(
        session,
        OutboxMessage,
        {
            "idempotency_key": key[:200],
            "channel": channel,
            "target_kind": target_kind,
            "target": target,
            "payload": as_payload(message),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
        },
    )
