"""Inbox claims that arrive together share one transaction (group commit), without changing what a
claim means: each one still answers new/duplicate only after its row is committed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.inbox import Inbox
from core.clock import ManualClock
from core.events import TextEvent
from storage.db import Database
from storage.migrate import upgrade
from storage.models import InboundEvent


def event(i: int | str) -> TextEvent:
    return TextEvent(channel="wecom", event_id=f"msg:{i}", sender_id="rep", text="帮助")


async def fresh(url: str) -> tuple[Database, Inbox]:
    db = Database(url)
    await upgrade(db)
    return db, Inbox(db, ManualClock())


async def rows(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(InboundEvent))).scalar_one())


async def test_a_burst_of_claims_shares_transactions(db_url: str) -> None:
    db, inbox = await fresh(db_url)
    batches: list[int] = []
    insert = inbox._insert

    async def counting(rows: list[dict[str, Any]]) -> list[bool | None]:
        batches.append(len(rows))
        return await insert(rows)

    inbox._insert = counting  # type: ignore[method-assign]
    burst = [event(i) for i in range(60)] + [event(7), event(8)]  # two duplicates inside the burst
    results = await asyncio.gather(*(inbox.claim(e) for e in burst))
    assert results == [True] * 60 + [False, False]
    assert await rows(db) == 60
    assert sum(batches) == 62 and len(batches) < 10
    assert await inbox.claim(event(3)) is False
    await db.dispose()


async def test_processing_starts_even_if_the_claimer_gives_up(tmp_path: Path) -> None:
    db, inbox = await fresh(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    started: list[str] = []
    claim = asyncio.create_task(inbox.claim(event("x"), on_new=lambda: started.append("x")))
    await asyncio.sleep(0)
    claim.cancel()  # e.g. the HTTP client hung up while the claim waited for the database
    assert inbox._flusher is not None
    await inbox._flusher
    assert started == ["x"] and await rows(db) == 1
    await db.dispose()


async def test_one_bad_row_does_not_fail_the_others(pg_url: str) -> None:
    db, inbox = await fresh(pg_url)
    too_long = event("y" * 300)  # event_id is VARCHAR(200): PostgreSQL refuses it
    results = await asyncio.gather(
        inbox.claim(event(1)), inbox.claim(too_long), inbox.claim(event(2)), return_exceptions=True
    )
    assert results[0] is True and results[2] is True and isinstance(results[1], Exception)
    assert await rows(db) == 2
    await db.dispose()
