"""The quote ledger on SQLite and PostgreSQL: appended in a hash chain, never changed or deleted (the ORM
and the database both refuse), corrections as annotations, and tampering found by verify_chain."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from core.speech import Transcript
from speech.ledger import GENESIS, QuoteLedger, annotate, compute_hash, verify_chain
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Quote, QuoteAnnotation, QuoteImmutableError, User

NOW = datetime(2026, 11, 23, 1, 0, 0, 123456, tzinfo=UTC)


def transcript(n: int, audio_path: str = "") -> Transcript:
    return Transcript(
        text=f"第{n}条：采购成本太高了，预算只有去年的八成。",
        language="zh",
        duration_s=4.0 + n / 7,
        model_name="whisper-base",
        model_version="sha256:d01c3014881c int8 faster-whisper/1.2.1 ctranslate2/4.8.5",
        audio_path=audio_path or f"data/audio/ab/{n:064d}.amr",
        audio_sha256=f"{n:064x}",
        audio_format="amr-nb",
        platform_recognition=f"第{n}条采购成本太高了预算只有去年的八成" if n % 2 else None,
    )


async def ledger_db(url: str, quotes: int = 0) -> tuple[Database, int]:
    db = Database(url)
    await upgrade(db)
    async with db.transaction() as s:
        rep = User(name="王磊", created_at=NOW, updated_at=NOW)
        s.add(rep)
        await s.flush()
        rep_id = rep.id
    for n in range(1, quotes + 1):
        async with db.transaction() as s:
            await QuoteLedger().record(
                s,
                now=NOW + timedelta(minutes=n),
                transcript=transcript(n),
                rep_id=rep_id,
                customer_id=None,
                visit_id=None,
            )
    return db, rep_id


async def test_quotes_are_chained_in_order(db_url: str) -> None:
    db, _ = await ledger_db(db_url, quotes=3)
    try:
        async with db.read() as s:
            quotes = (await s.execute(select(Quote).order_by(Quote.seq))).scalars().all()
            report = await verify_chain(s)
        assert [q.seq for q in quotes] == [1, 2, 3]
        assert quotes[0].prev_hash == GENESIS
        assert [q.prev_hash for q in quotes[1:]] == [q.hash for q in quotes[:-1]]
        assert all(compute_hash(q) == q.hash for q in quotes)  # survives the round trip through the DB
        assert quotes[1].created_at == NOW + timedelta(minutes=2)
        assert (
            quotes[0].platform_recognition == "第1条采购成本太高了预算只有去年的八成"
            and quotes[1].platform_recognition is None
        )
        assert report.ok and report.count == 3 and report.head_seq == 3 and report.head_hash == quotes[2].hash
    finally:
        await db.dispose()


async def test_orm_refuses_to_change_or_delete_a_quote(db_url: str) -> None:
    db, _ = await ledger_db(db_url, quotes=1)
    try:
        with pytest.raises(QuoteImmutableError):
            async with db.transaction() as s:
                (await s.execute(select(Quote))).scalar_one().transcript = "客户其实很满意"
        with pytest.raises(QuoteImmutableError):
            async with db.transaction() as s:
                await s.delete((await s.execute(select(Quote))).scalar_one())
        with pytest.raises(QuoteImmutableError):
            async with db.transaction() as s:
                await s.execute(update(Quote).values(transcript="改过的"))
        with pytest.raises(QuoteImmutableError):
            async with db.transaction() as s:
                await s.execute(delete(Quote))
        async with db.read() as s:
            assert (await s.execute(select(Quote.transcript))).scalar_one().startswith("第1条")
    finally:
        await db.dispose()


async def test_database_refuses_raw_sql_changes(db_url: str) -> None:
    db, _ = await ledger_db(db_url, quotes=2)
    statements = [
        "UPDATE quotes SET transcript = '客户其实很满意'",
        "UPDATE quotes SET hash = prev_hash WHERE seq = 2",
        "DELETE FROM quotes WHERE seq = 2",
        "DELETE FROM quotes",
    ]
    if db.dialect == "postgresql":
        statements.append("TRUNCATE quotes CASCADE")
    try:
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"):
                async with db.transaction() as s:
                    await s.execute(text(statement))
        async with db.read() as s:
            report = await verify_chain(s)
        assert report.ok and report.count == 2
    finally:
        await db.dispose()


async def test_a_correction_is_an_annotation_and_the_quote_stays(db_url: str) -> None:
    db, rep_id = await ledger_db(db_url, quotes=1)
    try:
        async with db.transaction() as s:
            quote_id = (await s.execute(select(Quote.id))).scalar_one()
            await annotate(s, quote_id=quote_id, text="“运算”应为“预算”", now=NOW, author_id=rep_id)
        with pytest.raises(LookupError):
            async with db.transaction() as s:
                await annotate(s, quote_id=quote_id + 99, text="x", now=NOW)
        async with db.read() as s:
            note = (await s.execute(select(QuoteAnnotation))).scalar_one()
            assert note.quote_id == quote_id and note.author_id == rep_id
            assert (await verify_chain(s)).ok
    finally:
        await db.dispose()


async def drop_guards(db: Database) -> None:
    """What an attacker with database access would do first."""
    async with db.transaction() as s:
        if db.is_sqlite:
            await s.execute(text("DROP TRIGGER quotes_no_update"))
            await s.execute(text("DROP TRIGGER quotes_no_delete"))
        else:
            await s.execute(text("DROP TRIGGER quotes_no_update_delete ON quotes"))


async def test_tampering_is_found_and_the_quote_named(db_url: str) -> None:
    db, _ = await ledger_db(db_url, quotes=4)
    try:
        await drop_guards(db)
        async with db.transaction() as s:
            await s.execute(text("UPDATE quotes SET transcript = '价格可以接受' WHERE seq = 3"))
            target = (await s.execute(text("SELECT id FROM quotes WHERE seq = 3"))).scalar_one()
        async with db.read() as s:
            report = await verify_chain(s)
        assert not report.ok and report.broken is not None
        assert report.broken.quote_id == target and report.broken.seq == 3
        assert "row was changed" in report.broken.reason and report.count == 2
    finally:
        await db.dispose()


async def test_rehashed_rows_and_deleted_rows_are_found(db_url: str) -> None:
    db, _ = await ledger_db(db_url, quotes=4)
    try:
        await drop_guards(db)
        # A careful forger recomputes the changed row's own hash: the next quote's link gives it away.
        async with db.transaction() as s:
            await s.execute(text("UPDATE quotes SET transcript = '价格可以接受' WHERE seq = 2"))
        async with db.read() as s:
            forged = (await s.execute(select(Quote).where(Quote.seq == 2))).scalar_one()
            new_hash = compute_hash(forged)
        async with db.transaction() as s:
            await s.execute(text("UPDATE quotes SET hash = :h WHERE seq = 2"), {"h": new_hash})
        async with db.read() as s:
            report = await verify_chain(s)
        assert report.broken is not None and report.broken.seq == 3 and "seq 2" in report.broken.reason

        async with db.transaction() as s:
            await s.execute(text("DELETE FROM quotes WHERE seq <= 2"))
        async with db.read() as s:
            report = await verify_chain(s)
        assert (
            report.broken is not None and report.broken.seq == 3 and "1–2 are missing" in report.broken.reason
        )
    finally:
        await db.dispose()


async def test_changed_audio_file_is_found_with_check_audio(db_url: str, tmp_path: Path) -> None:
    db, rep_id = await ledger_db(db_url)
    try:
        note = tmp_path / "note.amr"
        note.write_bytes(b"#!AMR\n" + bytes(64))
        import hashlib

        original = Transcript(
            **{
                **transcript(1).__dict__,
                "audio_path": str(note),
                "audio_sha256": hashlib.sha256(note.read_bytes()).hexdigest(),
            }
        )
        async with db.transaction() as s:
            await QuoteLedger().record(
                s, now=NOW, transcript=original, rep_id=rep_id, customer_id=None, visit_id=None
            )
        async with db.read() as s:
            assert (await verify_chain(s, check_audio=True)).audio_checked == 1
        note.write_bytes(b"#!AMR\n" + bytes(65))
        async with db.read() as s:
            report = await verify_chain(s, check_audio=True)
        assert report.broken is not None and "does not match the recorded SHA-256" in report.broken.reason
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_concurrent_appends_on_postgresql_keep_one_chain(pg_url: str) -> None:
    db, rep_id = await ledger_db(pg_url)
    try:

        async def add(n: int) -> None:
            async with db.transaction() as s:
                await QuoteLedger().record(
                    s, now=NOW, transcript=transcript(n), rep_id=rep_id, customer_id=None, visit_id=None
                )

        await asyncio.gather(*(add(n) for n in range(1, 9)))
        async with db.read() as s:
            report = await verify_chain(s)
            seqs = (await s.execute(select(Quote.seq).order_by(Quote.seq))).scalars().all()
        assert report.ok and report.count == 8 and seqs == list(range(1, 9))
    finally:
        await db.dispose()


async def test_triggers_are_in_place_at_the_head_revision(db_url: str) -> None:
    """A later migration that rebuilds the quotes table (SQLite batch mode) would lose them; this notices."""
    db, _ = await ledger_db(db_url)
    try:
        async with db.read() as s:
            if db.is_sqlite:
                names = (
                    (
                        await s.execute(
                            text(
                                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'quotes'"
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
                assert set(names) == {"quotes_no_update", "quotes_no_delete", "quotes_no_replace"}
            else:
                names = (
                    (
                        await s.execute(
                            text(
                                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'quotes'::regclass AND NOT tgisinternal"
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
                assert set(names) == {"quotes_no_update_delete", "quotes_no_truncate"}
    finally:
        await db.dispose()
