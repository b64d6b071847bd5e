"""Writing messages to the outbox, in the caller's transaction. Delivery is the bot core's job."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.formtoken import is_form_token
from storage.models import OutboxMessage
from storage.upsert import insert_ignore


async def latest_choice(
    session: AsyncSession, *, channel: str, target: str, since: datetime, look_back: int = 3
) -> tuple[str, list[str]] | None:
    """The (token, options) of a card among the last few messages to ``target`` that is not a form
    question, if it was queued after ``since``."""
    stmt = (
        select(OutboxMessage.payload, OutboxMessage.created_at)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.target_kind == "user",
            OutboxMessage.target == target,
        )
        .order_by(OutboxMessage.id.desc())
        .limit(look_back)
    )
    for payload, created_at in (await session.execute(stmt)).all():
        token = payload.get("token") or ""
        if payload.get("kind") == "choice" and token and not is_form_token(token) and created_at >= since:
            return token, list(payload.get("options", []))
    return None


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
        autoflush=False,  # the outbox references nothing: the step's changes flush once, at commit
    )
