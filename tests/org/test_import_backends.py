"""The import's transaction on both backends: one bad row leaves everything as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain.roster.files import read_roster
from domain.roster.importer import RosterInvalid, export_rows, import_roster
from storage.db import Database
from storage.migrate import upgrade
from storage.models import AuditLog, User
from tests.org.cli import EXAMPLE

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


async def test_all_or_nothing_and_idempotent(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        await upgrade(db)
        async with db.transaction() as session:
            result = await import_roster(session, read_roster(EXAMPLE), now=NOW, source="import:test")
        assert len(result.changes) == 8
        async with db.read() as session:
            before = await export_rows(session)
        bad = tmp_path / "bad.csv"
        text = EXAMPLE.read_text(encoding="utf-8").replace("王磊,rep,李强,杭州一组", "王磊,rep,李强,杭州九组")
        bad.write_text(text + "钱多,boss,李强,杭州一组,,,,,,,,active\n", encoding="utf-8")
        with pytest.raises(RosterInvalid) as caught:
            async with db.transaction() as session:
                await import_roster(session, read_roster(bad), now=NOW, source="import:bad")
        assert caught.value.problems == [
            "line 10: unknown role 'boss' (known roles: rep, manager, product, finance, admin / "
            "销售、经理、产品部、财务、管理员)"
        ]
        async with db.transaction() as session:
            assert await export_rows(session) == before
            again = await import_roster(session, read_roster(EXAMPLE), now=NOW, source="import:again")
            assert again.changes == []
            assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 8
            assert (await session.execute(select(func.count()).select_from(AuditLog))).scalar_one() == 8
    finally:
        await db.dispose()


async def test_imported_names_are_normalised_and_line_breaks_refused(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        await upgrade(db)
        people = tmp_path / "people.csv"
        people.write_text("姓名,角色\nＡＢ\u200b王\u202e磊,rep\n", encoding="utf-8")
        async with db.transaction() as session:
            await import_roster(session, read_roster(people), now=NOW, source="import:test")
        async with db.read() as session:
            assert [u.name for u in (await session.execute(select(User))).scalars()] == ["AB王磊"]
        people.write_text('姓名,角色\n"李强\n**紧急通知**",rep\n', encoding="utf-8")
        with pytest.raises(RosterInvalid) as caught:
            async with db.transaction() as session:
                await import_roster(session, read_roster(people), now=NOW, source="import:bad")
        assert "姓名不能换行" in caught.value.problems[0]
    finally:
        await db.dispose()
