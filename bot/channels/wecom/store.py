"""The channel's own state, as tables in the main database (``wecom_cards``, ``wecom_approvals``,
``wecom_deliveries``; migration 0013): cards sent (so a click can be mapped back and its card
updated), approval callbacks accepted but not yet turned into events, and which pieces of which
outbox message WeCom has accepted.

An approval callback needs an API call (``oa/getapprovaldetail``) before the neutral event exists;
the callback is recorded here, acknowledged, and finished in the background. Rows still pending when
the process stops are picked up again on start (by any instance), so an acknowledged approval is
never lost. Delivery progress lives here too, so a retry after a crash neither repeats the pieces
WeCom already accepted nor forgets that it is a retry.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from storage.db import Database
from storage.models import WeComApproval, WeComCard, WeComDelivery
from storage.upsert import insert_ignore

log = logging.getLogger(__name__)

ATTEMPTED = ""  # the delivery step that records "a send of this key was attempted"


@dataclass(frozen=True)
class CardRecord:
    task_id: str
    token: str
    userid: str
    options: list[str]
    multi: bool


@dataclass(frozen=True)
class PendingApproval:
    key: str
    sp_no: str
    template_id: str
    create_time: int
    attempts: int


class ChannelStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- cards --------------------------------------------------------------------
    async def remember_card(self, record: CardRecord, now: float) -> None:
        values = {
            "token": record.token,
            "userid": record.userid,
            "options": list(record.options),
            "multi": record.multi,
            "created_at": now,
        }
        async with self.db.transaction() as session:
            if not await insert_ignore(session, WeComCard, {"task_id": record.task_id, **values}):
                await session.execute(
                    update(WeComCard).where(WeComCard.task_id == record.task_id).values(**values)
                )

    async def card(self, task_id: str) -> CardRecord | None:
        async with self.db.read() as session:
            row = await session.get(WeComCard, task_id)
        if row is None:
            return None
        return CardRecord(row.task_id, row.token, row.userid, [str(o) for o in row.options], bool(row.multi))

    # -- approvals ----------------------------------------------------------------
    async def claim_approval(
        self, key: str, sp_no: str, template_id: str, create_time: int, now: float
    ) -> bool:
        """Record an approval callback once. False for a repeat (WeCom retries, duplicates)."""
        async with self.db.transaction() as session:
            return await insert_ignore(
                session,
                WeComApproval,
                {
                    "key": key,
                    "sp_no": sp_no,
                    "template_id": template_id,
                    "create_time": create_time,
                    "status": "pending",
                    "attempts": 0,
                    "error": "",
                    "created_at": now,
                },
            )

    async def pending_approvals(self) -> list[PendingApproval]:
        stmt = (
            select(
                WeComApproval.key,
                WeComApproval.sp_no,
                WeComApproval.template_id,
                WeComApproval.create_time,
                WeComApproval.attempts,
            )
            .where(WeComApproval.status == "pending")
            .order_by(WeComApproval.created_at)
        )
        async with self.db.read() as session:
            rows = (await session.execute(stmt)).all()
        return [PendingApproval(*row) for row in rows]

    async def finish_approval(self, key: str, status: str, error: str = "") -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(WeComApproval)
                .where(WeComApproval.key == key)
                .values(status=status, error=error[:2000])
            )

    async def approval_attempt(self, key: str, error: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(WeComApproval)
                .where(WeComApproval.key == key)
                .values(attempts=WeComApproval.attempts + 1, error=error[:2000])
            )

    async def approval_status(self, key: str) -> str | None:
        async with self.db.read() as session:
            row = await session.get(WeComApproval, key)
        return None if row is None else row.status

    # -- delivery progress ----------------------------------------------------------
    async def attempted(self, key: str, now: float) -> bool:
        """True when a send of ``key`` was attempted before (this is a retry); records the attempt."""
        async with self.db.transaction() as session:
            first = await insert_ignore(
                session, WeComDelivery, {"key": key, "step": ATTEMPTED, "created_at": now}
            )
        return not first

    async def delivered_steps(self, key: str) -> set[str]:
        async with self.db.read() as session:
            rows = await session.execute(
                select(WeComDelivery.step).where(WeComDelivery.key == key, WeComDelivery.step != ATTEMPTED)
            )
            return set(rows.scalars())

    async def mark_delivered(self, key: str, step: str, now: float) -> None:
        async with self.db.transaction() as session:
            await insert_ignore(session, WeComDelivery, {"key": key, "step": step, "created_at": now})

    async def prune(self, before: float) -> None:
        """Forget cards, finished approvals and delivery progress older than ``before`` (epoch s)."""
        async with self.db.transaction() as session:
            await session.execute(delete(WeComCard).where(WeComCard.created_at < before))
            await session.execute(
                delete(WeComApproval).where(
                    WeComApproval.status != "pending", WeComApproval.created_at < before
                )
            )
            await session.execute(delete(WeComDelivery).where(WeComDelivery.created_at < before))


LEGACY_FILE = "state.sqlite3"  # <data_dir>/wecom/state.sqlite3, before migration 0013


def _read_legacy(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cards = conn.execute(
            "SELECT task_id, token, userid, options, multi, created_at FROM cards"
        ).fetchall()
        approvals = conn.execute(
            "SELECT key, sp_no, template_id, create_time, status, attempts, error, created_at FROM approvals"
        ).fetchall()
    finally:
        conn.close()
    return cards, approvals


async def import_legacy_file(store: ChannelStore, folder: Path) -> int:
    """Move what an older version kept in ``<data_dir>/wecom/state.sqlite3`` into the database (pending
    approvals above all), then rename the file so it is read once. Returns the rows imported."""
    path = folder / LEGACY_FILE
    if not await asyncio.to_thread(path.exists):
        return 0
    cards, approvals = await asyncio.to_thread(_read_legacy, path)
    async with store.db.transaction() as session:
        for task_id, token, userid, options, multi, created in cards:
            await insert_ignore(
                session,
                WeComCard,
                {
                    "task_id": task_id,
                    "token": token,
                    "userid": userid,
                    "options": json.loads(options),
                    "multi": bool(multi),
                    "created_at": created,
                },
            )
        for key, sp_no, template_id, create_time, status, attempts, error, created in approvals:
            await insert_ignore(
                session,
                WeComApproval,
                {
                    "key": key,
                    "sp_no": sp_no,
                    "template_id": template_id,
                    "create_time": create_time,
                    "status": status,
                    "attempts": attempts,
                    "error": error,
                    "created_at": created,
                },
            )
    await asyncio.to_thread(path.rename, path.with_name(LEGACY_FILE + ".imported"))
    log.info("imported %d cards and %d approvals from %s", len(cards), len(approvals), path)
    return len(cards) + len(approvals)
