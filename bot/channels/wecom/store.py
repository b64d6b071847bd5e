"""The channel's own small state, in SQLite under ``<data_dir>/wecom/``: cards sent (so a click can
be mapped back and its card updated) and approval callbacks accepted but not yet turned into events.

An approval callback needs an API call (``oa/getapprovaldetail``) before the neutral event exists;
the callback is recorded here, acknowledged, and finished in the background. Rows still pending when
the process stops are picked up again on start, so an acknowledged approval is never lost.

Methods are synchronous; the channel calls them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    task_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    userid TEXT NOT NULL,
    options TEXT NOT NULL,
    multi INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS approvals (
    key TEXT PRIMARY KEY,
    sp_no TEXT NOT NULL,
    template_id TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_pending ON approvals(status) WHERE status = 'pending';
"""


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
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- cards --------------------------------------------------------------------
    def remember_card(self, record: CardRecord, now: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cards VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.task_id,
                    record.token,
                    record.userid,
                    json.dumps(record.options, ensure_ascii=False),
                    int(record.multi),
                    now,
                ),
            )

    def card(self, task_id: str) -> CardRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT task_id, token, userid, options, multi FROM cards WHERE task_id = ?", (task_id,)
            ).fetchone()
        if row is None:
            return None
        return CardRecord(row[0], row[1], row[2], list(json.loads(row[3])), bool(row[4]))

    # -- approvals ----------------------------------------------------------------
    def claim_approval(self, key: str, sp_no: str, template_id: str, create_time: int, now: float) -> bool:
        """Record an approval callback once. False for a repeat (WeCom retries, duplicates)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO approvals (key, sp_no, template_id, create_time, status, created_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?)",
                (key, sp_no, template_id, create_time, now),
            )
            return cur.rowcount == 1

    def pending_approvals(self) -> list[PendingApproval]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, sp_no, template_id, create_time, attempts FROM approvals "
                "WHERE status = 'pending' ORDER BY created_at"
            ).fetchall()
        return [PendingApproval(*row) for row in rows]

    def finish_approval(self, key: str, status: str, error: str = "") -> None:
        with self._lock:
            self._db.execute(
                "UPDATE approvals SET status = ?, error = ? WHERE key = ?", (status, error[:2000], key)
            )

    def approval_attempt(self, key: str, error: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE approvals SET attempts = attempts + 1, error = ? WHERE key = ?", (error[:2000], key)
            )

    def approval_status(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT status FROM approvals WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def prune(self, before: float) -> None:
        """Forget cards and finished approvals older than ``before`` (epoch seconds)."""
        with self._lock:
            self._db.execute("DELETE FROM cards WHERE created_at < ?", (before,))
            self._db.execute("DELETE FROM approvals WHERE status != 'pending' AND created_at < ?", (before,))
