"""The WeCom channel's state lives in the main database (migration 0013): approvals acknowledged but
not yet fetched, cards, and which pieces WeCom accepted. A retry after a crash neither repeats what
WeCom accepted nor falls back to text for a card that went out (40058), and an old side file is
imported once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import delete

from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.outbound import Outbound
from bot.channels.wecom.store import ATTEMPTED, ChannelStore, import_legacy_file
from bot.channels.wecom.webhook import WebhookClient
from core.clock import ManualClock
from core.messages import Choice, Text
from emulators.wecom.server import WeComEmulator
from storage.db import Database
from storage.migrate import upgrade
from storage.models import WeComDelivery

CORP, SECRET, AGENT = "ww5823bf96d3bd56c7", "app-secret-for-tests-0123456789abcdefghijk", 1000002


async def _store(url: str) -> ChannelStore:
    db = Database(url)
    await upgrade(db)
    return ChannelStore(db)


def _outbound(emu: WeComEmulator, store: ChannelStore, clock: ManualClock) -> Outbound:
    client = WeComClient(CORP, SECRET, api_base=emu.base_url, agent_id=AGENT)
    webhook = WebhookClient(emu.base_url, clock=clock, per_minute=20)
    return Outbound(client=client, webhook=webhook, store=store, clock=clock)


async def test_approvals_and_cards_are_shared_through_the_database(db_url: str) -> None:
    first = await _store(db_url)
    assert await first.claim_approval("k1", "202612050001", "tpl", 1700000000, 1.0)
    second = await _store(db_url)  # another instance, or the next start
    assert not await second.claim_approval("k1", "202612050001", "tpl", 1700000000, 2.0)
    assert [p.sp_no for p in await second.pending_approvals()] == ["202612050001"]
    await second.approval_attempt("k1", "system busy")
    await second.finish_approval("k1", "done")
    assert await first.pending_approvals() == []
    assert await first.approval_status("k1") == "done"
    await first.db.dispose()
    await second.db.dispose()


async def test_a_retried_card_after_a_crash_is_not_sent_again_as_text(db_url: str) -> None:
    clock = ManualClock()
    store = await _store(db_url)
    emu = WeComEmulator(corp_id=CORP, secret=SECRET, agent_id=AGENT).start()
    try:
        choice = Choice(prompt="拜访类型？", options=["首次拜访", "回访"], token="q1")
        await _outbound(emu, store, clock).to_user("wanglei", choice, "reply:1")
        assert [m["msgtype"] for m in emu.messages] == ["template_card"]
        # The process died after WeCom accepted the card but before recording it: only the attempt
        # is on record. The restarted process (a new Outbound) sends it again.
        async with store.db.transaction() as session:
            await session.execute(delete(WeComDelivery).where(WeComDelivery.step != ATTEMPTED))
        await _outbound(emu, store, clock).to_user("wanglei", choice, "reply:1")
        assert [m["msgtype"] for m in emu.messages] == ["template_card"]  # WeCom's duplicate check
        # Past WeCom's duplicate-check window the repeat gets 40058 (task id exists): delivered.
        async with store.db.transaction() as session:
            await session.execute(delete(WeComDelivery).where(WeComDelivery.step != ATTEMPTED))
        emu._state.recent.clear()
        await _outbound(emu, store, clock).to_user("wanglei", choice, "reply:1")
        assert [m["msgtype"] for m in emu.messages] == ["template_card"]  # no text fallback
        # A long text cut in pieces: after a crash half-way only the rest is sent.
        long = Text(text="\n".join(f"第{i}行 " + "很长的内容" * 40 for i in range(12)))
        await _outbound(emu, store, clock).to_user("wanglei", long, "reply:2")
        pieces = len(emu.messages) - 1
        assert pieces >= 2
        await _outbound(emu, store, clock).to_user("wanglei", long, "reply:2")
        assert len(emu.messages) - 1 == pieces
    finally:
        emu.stop()
        await store.db.dispose()


async def test_an_old_side_file_is_imported_once(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "wecom"
    folder.mkdir(parents=True)
    legacy = sqlite3.connect(folder / "state.sqlite3")
    legacy.executescript(
        "CREATE TABLE cards (task_id TEXT PRIMARY KEY, token TEXT, userid TEXT, options TEXT, multi INTEGER,"
        " created_at REAL);"
        "CREATE TABLE approvals (key TEXT PRIMARY KEY, sp_no TEXT, template_id TEXT, create_time INTEGER,"
        " status TEXT, attempts INTEGER, error TEXT, created_at REAL);"
        "INSERT INTO cards VALUES ('t1', 'q1', 'wanglei', '[\"是\", \"否\"]', 0, 1.0);"
        "INSERT INTO approvals VALUES ('k9', '202612050009', 'tpl', 1700000000, 'pending', 1, 'busy', 1.0);"
    )
    legacy.commit()
    legacy.close()
    store = await _store(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    assert await import_legacy_file(store, folder) == 2
    assert [p.sp_no for p in await store.pending_approvals()] == ["202612050009"]
    card = await store.card("t1")
    assert card is not None and card.options == ["是", "否"]
    assert not (folder / "state.sqlite3").exists() and (folder / "state.sqlite3.imported").exists()
    assert await import_legacy_file(store, folder) == 0
    await store.db.dispose()
