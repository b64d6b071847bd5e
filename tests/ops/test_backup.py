"""`actionflow backup` → `actionflow restore` round trip on SQLite: the database, the media folder and
the quote ledger (verified with its audio) come back; a non-empty target is refused without --force;
the bot copies a SQLite database aside before migrating it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.backup import backup_before_migrating
from bot.cli.main import main
from bot.testing import make_settings
from core.speech import Transcript
from domain.files import FileStore
from speech.ledger import append
from storage.db import Database
from storage.migrate import head_revision, upgrade
from storage.models import Quote, User


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "actionflow.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "bot.db"}"\n[app]\ndata_dir = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    return cfg


async def _seed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    db = Database(settings.database.url)
    await upgrade(db)
    files = FileStore(settings.app.data_dir)
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    async with db.transaction() as session:
        rep = User(
            name="王磊", console_id="wanglei", status="active", team="一组", created_at=now, updated_at=now
        )
        session.add(rep)
        await session.flush()
        for i, words in enumerate(["预算今年三季度批下来", "希望先试用两台"]):
            audio = f"voice-{i}".encode() * 100
            sha, path = files.put(audio, kind="voice", ext="amr")
            transcript = Transcript(words, "zh", 3.0, "whisper-base", "1", str(path), sha, "amr")
            await append(session, now=now, transcript=transcript, rep_id=rep.id)
    await db.dispose()


async def _quotes(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.read() as session:
            return list((await session.execute(select(Quote.transcript).order_by(Quote.seq))).scalars())
    finally:
        await db.dispose()


def test_backup_restore_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _config(tmp_path)
    asyncio.run(_seed(tmp_path))
    url = make_settings(tmp_path).database.url
    dest = tmp_path / "backup-1"
    assert main(["--config", str(cfg), "backup", str(dest)]) == 0
    out = capsys.readouterr().out
    assert "quote ledger: 2 quote(s), head seq 2" in out
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["database"]["kind"] == "sqlite" and manifest["ledger"]["head_seq"] == 2
    assert manifest["revision"] == head_revision() and manifest["media"]["files"] == 2
    assert main(["--config", str(cfg), "backup", str(dest)]) == 1  # never into a used folder
    assert "not empty" in capsys.readouterr().err

    # Disaster: the database and the media are lost.
    (tmp_path / "bot.db").unlink()
    shutil.rmtree(tmp_path / "data")
    assert main(["--config", str(cfg), "restore", str(dest)]) == 0
    assert "quote ledger OK: 2 quote(s), 2 audio file(s) re-hashed" in capsys.readouterr().out
    assert asyncio.run(_quotes(url)) == ["预算今年三季度批下来", "希望先试用两台"]

    # A target that holds data is refused unless --force.
    assert main(["--config", str(cfg), "restore", str(dest)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["--config", str(cfg), "restore", str(dest), "--force"]) == 0
    capsys.readouterr()

    # A voice file altered after the backup: restore puts the original back; verify proves it.
    voice = next((tmp_path / "data").rglob("*.amr"))
    original = voice.read_bytes()
    voice.write_bytes(b"tampered")
    assert main(["--config", str(cfg), "audit", "verify", "--audio"]) == 1
    assert main(["--config", str(cfg), "restore", str(dest), "--force"]) == 0
    assert hashlib.sha256(voice.read_bytes()).digest() == hashlib.sha256(original).digest()


async def test_the_bot_copies_a_sqlite_database_aside_before_migrating(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    db = Database(settings.database.url)
    await upgrade(db, "0005")
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO alert_log (kind, key, period, target, payload, created_at) "
                                   "VALUES ('x', 'k', '', '', '{}', '2026-12-01 00:00:00')"))  # fmt: skip
    saved = await backup_before_migrating(db, settings, head_revision())
    assert saved is not None and saved.exists() and saved.parent == Path(settings.app.data_dir) / "backups"
    copy = Database(f"sqlite+aiosqlite:///{saved}")
    async with copy.read() as session:
        assert await session.scalar(text("SELECT count(*) FROM alert_log")) == 1
        assert await session.scalar(text("SELECT version_num FROM alembic_version")) == "0005"
    await copy.dispose()
    await upgrade(db)
    assert await backup_before_migrating(db, settings, head_revision()) is None  # up to date: nothing
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0
    await db.dispose()
