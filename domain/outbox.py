"""Writing messages to the outbox, in the caller's transaction. Delivery is the bot core's job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.formtoken import is_form_token
from storage.models import OutboxMessage, OutboxStatus
from storage.upsert import insert_ignore


@dataclass(frozen=True)
class OpenCard:
    token: str
    options: list[str]
    prompt: str


async def open_cards(
    session: AsyncSession, *, channel: str, target: str, since: datetime, look_back: int = 8
) -> list[OpenCard]:
    """The cards (not form questions) among the last few messages to ``target`` queued after
    ``since``, newest first, each token once: a bare number typed now may answer any of them."""
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
    cards: list[OpenCard] = []
    for payload, created_at in (await session.execute(stmt)).all():
        token = payload.get("token") or ""
        if payload.get("kind") != "choice" or not token or is_form_token(token) or created_at < since:
            continue
        if all(c.token != token for c in cards):
            cards.append(OpenCard(token, list(payload.get("options", [])), str(payload.get("prompt") or "")))
    return cards


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
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": "",
            "created_at": now,
        },
        autoflush=False,  # the outbox references nothing: the step's changes flush once, at commit
    )
