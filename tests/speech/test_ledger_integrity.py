"""The quote's integrity beyond the single chain: annotations are a chain too, SQLite's INSERT OR REPLACE
is refused, a changed demands.text copy is reported, and a remembered head exposes truncation and
re-hashing (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from domain.quotes import (
    GENESIS,
    annotation_hash,
    compute_hash,
    head_token,
    load_views,
    quote_text,
    render_quote,
    shown_text,
)
from speech.ledger import QuoteLedger, annotate, verify_chain
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Demand, Quote, QuoteAnnotation, User
from tests.speech.test_ledger import NOW, drop_guards, ledger_db, transcript

REPO = Path(__file__).resolve().parents[2]


async def with_demand(db: Database, rep_id: int, quote_seq: int = 1) -> int:
    async with db.transaction() as s:
        quote = (await s.execute(select(Quote).where(Quote.seq == quote_seq))).scalar_one()
        demand = Demand(
            rep_id=rep_id,
            quote_id=quote.id,
            text=quote_text(quote.transcript, quote.platform_recognition)[0],
            created_at=NOW,
        )
        s.add(demand)
        await s.flush()
        return demand.id


async def drop_all_guards(db: Database) -> None:
    await drop_guards(db)
    async with db.transaction() as s:
        if db.is_sqlite:
            await s.execute(text("DROP TRIGGER quote_annotations_no_update"))
            await s.execute(text("DROP TRIGGER quote_annotations_no_delete"))
        else:
            await s.execute(text("DROP TRIGGER quote_annotations_no_update_delete ON quote_annotations"))
            await s.execute(text("DROP TRIGGER quotes_no_truncate ON quotes"))


async def test_sqlite_refuses_insert_or_replace_on_the_ledger(tmp_path: Path) -> None:
    db, rep_id = await ledger_db(f"sqlite+aiosqlite:///{tmp_path / 'replace.db'}", quotes=2)
    try:
        async with db.transaction() as s:
            await annotate(s, quote_id=1, text="“运算”应为“预算”", now=NOW, author_id=rep_id)
        replace_quote = (
            "INSERT OR REPLACE INTO quotes (id, seq, audio_sha256, audio_path, audio_format, transcript, "
            "model_name, model_version, language, duration_s, rep_id, created_at, prev_hash, hash) "
            "SELECT id, seq, audio_sha256, audio_path, audio_format, '客户其实很满意', model_name, "
            "model_version, language, duration_s, rep_id, created_at, prev_hash, hash FROM quotes WHERE seq = 2"
        )
        replace_note = (
            "REPLACE INTO quote_annotations (id, quote_id, author_id, text, created_at, seq, kind, "
            "quote_hash, prev_hash, hash) SELECT id, quote_id, author_id, '没问题', created_at, seq, kind, "
            "quote_hash, prev_hash, hash FROM quote_annotations"
        )
        for statement in (replace_quote, replace_note):
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.transaction() as s:
                    await s.execute(text(statement))
        async with db.read() as s:
            assert (
                (await s.execute(select(Quote.transcript).where(Quote.seq == 2)))
                .scalar_one()
                .startswith("第2条")
            )
            assert (await s.execute(select(QuoteAnnotation.text))).scalar_one() == "“运算”应为“预算”"
            assert (await verify_chain(s)).ok
    finally:
        await db.dispose()


async def test_annotations_are_append_only_and_chained(db_url: str) -> None:
    db, rep_id = await ledger_db(db_url, quotes=2)
    try:
        async with db.transaction() as s:
            first = await annotate(s, quote_id=1, text="“运算”应为“预算”", now=NOW, author_id=rep_id)
            second = await annotate(s, quote_id=2, text="“八成”应为“七成”", now=NOW, author_id=rep_id)
            assert (first.seq, second.seq) == (1, 2) and second.prev_hash == first.hash
            assert annotation_hash(second) == second.hash
        for statement in ("UPDATE quote_annotations SET text = '改了'", "DELETE FROM quote_annotations"):
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.transaction() as s:
                    await s.execute(text(statement))
        async with db.read() as s:
            report = await verify_chain(s)
        assert report.ok and report.annotations == 2

        await drop_all_guards(db)
        async with db.transaction() as s:
            await s.execute(text("UPDATE quote_annotations SET text = '没有问题' WHERE seq = 1"))
        async with db.read() as s:
            report = await verify_chain(s)
            views = await load_views(s, [1])
        assert report.broken is not None and report.broken.chain == "annotation" and report.broken.seq == 1
        assert "row was changed" in report.broken.reason
        assert not views[1].intact and views[1].correction is None  # a forged correction is not shown
    finally:
        await db.dispose()


async def test_an_annotation_moved_to_another_quote_is_found(db_url: str) -> None:
    db, rep_id = await ledger_db(db_url, quotes=2)
    try:
        async with db.transaction() as s:
            await annotate(s, quote_id=1, text="“运算”应为“预算”", now=NOW, author_id=rep_id)
        await drop_all_guards(db)
        async with db.transaction() as s:
            await s.execute(text("UPDATE quote_annotations SET quote_id = 2"))
            note = (await s.execute(select(QuoteAnnotation))).scalar_one()
            # even with its own hash recomputed, the quote's hash it covers gives it away
            await s.execute(text("UPDATE quote_annotations SET hash = :h"), {"h": annotation_hash(note)})
        async with db.read() as s:
            report = await verify_chain(s)
        assert report.broken is not None and "another version of quote 2" in report.broken.reason
    finally:
        await db.dispose()


async def test_a_changed_demand_copy_is_shown_changed_and_reported(db_url: str) -> None:
    db, rep_id = await ledger_db(db_url, quotes=1)
    try:
        demand_id = await with_demand(db, rep_id)
        async with db.read() as s:
            assert (await verify_chain(s)).ok
        # demands.text is an ordinary column: anyone with SQL access can change it
        async with db.transaction() as s:
            await s.execute(
                text("UPDATE demands SET text = '价格可以接受，没有问题' WHERE id = :i"), {"i": demand_id}
            )
        async with db.read() as s:
            report = await verify_chain(s)
            demand = await s.get(Demand, demand_id)
            assert demand is not None
            view = (await load_views(s, [demand.quote_id]))[demand.quote_id or 0]
        assert not report.ok and report.broken is None
        assert report.changed_copies == (f"demand {demand_id}: its text differs from quote 1 in the ledger",)
        shown, changed = shown_text(view, demand.text)
        assert shown.startswith("第1条采购成本太高了") and changed  # the ledger's text, not the copy
        assert render_quote(view, demand.text).startswith("“第1条采购成本太高了")
        assert "（⚠️ 已被改动，以账本原文为准）" in render_quote(view, demand.text)
    finally:
        await db.dispose()


async def test_a_changed_quote_row_is_shown_changed_without_running_verify(db_url: str) -> None:
    db, rep_id = await ledger_db(db_url, quotes=1)
    try:
        await with_demand(db, rep_id)
        await drop_guards(db)
        async with db.transaction() as s:
            await s.execute(
                text("UPDATE quotes SET transcript = '第1条：采购成本太高了，预算只有去年的八成。价格可以'")
            )
        async with db.read() as s:
            view = (await load_views(s, [1]))[1]
        assert not view.intact and "已被改动" in render_quote(view)
    finally:
        await db.dispose()


async def test_truncation_and_rehashing_are_caught_by_a_remembered_head(db_url: str) -> None:
    db, rep_id = await ledger_db(db_url, quotes=4)
    try:
        async with db.transaction() as s:
            await annotate(s, quote_id=2, text="“运算”应为“预算”", now=NOW, author_id=rep_id)
        async with db.read() as s:
            before = await verify_chain(s)
            remembered = before.head
            assert (await verify_chain(s, head=remembered)).ok
            assert remembered.startswith("4.1.")
        # more entries later: the remembered head is still inside the ledger
        async with db.transaction() as s:
            await annotate(s, quote_id=3, text="补充", now=NOW + timedelta(hours=1), author_id=rep_id)
        async with db.read() as s:
            assert (await verify_chain(s, head=remembered)).ok

        await drop_all_guards(db)
        # delete the newest quote: the chain alone still verifies
        async with db.transaction() as s:
            await s.execute(text("DELETE FROM quote_annotations WHERE seq = 2"))
            await s.execute(text("DELETE FROM quotes WHERE seq = 4"))
        async with db.read() as s:
            alone = await verify_chain(s)
            anchored = await verify_chain(s, head=remembered)
        assert alone.ok and alone.count == 3
        assert not anchored.ok and anchored.head_problem is not None
        assert "removed from the end" in anchored.head_problem

        # rewrite quote 2 and re-hash everything from there on: the chain alone verifies again
        async with db.read() as s:
            third = (await s.execute(select(Quote.hash).where(Quote.seq == 3))).scalar_one()
        remembered = head_token(3, third, 0, GENESIS)  # the head as it was before the forgery
        async with db.transaction() as s:
            await s.execute(text("DELETE FROM quote_annotations"))
            await s.execute(text("UPDATE quotes SET transcript = '价格可以接受' WHERE seq = 2"))
            prev = (await s.execute(select(Quote.hash).where(Quote.seq == 1))).scalar_one()
            for seq in (2, 3):
                await s.execute(
                    text("UPDATE quotes SET prev_hash = :p WHERE seq = :s"), {"p": prev, "s": seq}
                )
                s.expire_all()
                row = (await s.execute(select(Quote).where(Quote.seq == seq))).scalar_one()
                prev = compute_hash(row)
                await s.execute(text("UPDATE quotes SET hash = :h WHERE seq = :s"), {"h": prev, "s": seq})
        async with db.read() as s:
            assert (await verify_chain(s)).ok
            anchored = await verify_chain(s, head=remembered)
        assert not anchored.ok and anchored.head_problem is not None
        assert "rewritten" in anchored.head_problem
    finally:
        await db.dispose()


def test_audit_verify_head_on_the_command_line(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def build() -> None:
        db, _ = await ledger_db(url, quotes=2)
        await db.dispose()

    asyncio.run(build())
    env = {"ACTIONFLOW_DATABASE__URL": url, "PATH": "/usr/bin:/bin"}

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "audit", "verify", *extra],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )

    ok = verify()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    head = ok.stdout.strip().rsplit("head ", 1)[1]
    assert head.startswith("2.0.")
    assert verify("--head", head).returncode == 0
    wrong = verify("--head", f"3.0.{'a' * 64}")
    assert wrong.returncode == 1 and "removed from the end" in wrong.stdout
    bad = verify("--head", "yesterday")
    assert bad.returncode == 1 and "not of the form" in bad.stdout


async def test_annotations_written_before_0009_are_chained_by_the_migration(db_url: str) -> None:
    db = Database(db_url)
    try:
        await upgrade(db, "0005")
        async with db.transaction() as s:
            s.add(User(name="王磊", created_at=NOW, updated_at=NOW))
        async with db.transaction() as s:
            await QuoteLedger().record(
                s, now=NOW, transcript=transcript(2), rep_id=1, customer_id=None, visit_id=None
            )
            quote_hash = (await s.execute(select(Quote.hash))).scalar_one()
        async with db.transaction() as s:
            for words in ("“运算”应为“预算”", "补充：去年的八成"):
                await s.execute(
                    text(
                        "INSERT INTO quote_annotations (quote_id, author_id, text, created_at) "
                        "VALUES (1, 1, :w, :t)"
                    ),
                    {"w": words, "t": NOW},
                )
        await upgrade(db)
        async with db.read() as s:
            notes = (await s.execute(select(QuoteAnnotation).order_by(QuoteAnnotation.id))).scalars().all()
            assert (await verify_chain(s)).ok
        assert [n.seq for n in notes] == [1, 2] and notes[1].prev_hash == notes[0].hash
        assert all(annotation_hash(n) == n.hash and n.quote_hash == quote_hash for n in notes)
    finally:
        await db.dispose()
