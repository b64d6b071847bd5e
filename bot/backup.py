"""Back up and restore one installation: the database and the media folder (``app.data_dir``: photos,
voice notes, reports), with a manifest that records the quote ledger's head, so a restore can prove
that no quote went missing (``audit verify --audio`` runs after it).

* SQLite: the file is copied with SQLite's online backup API (consistent while the bot runs).
* PostgreSQL: the dump is pg_dump's job; ``backup`` prints the command and copies the media.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.version import actionflow_version
from config.settings import Settings
from storage.db import Database, sqlite_path
from storage.migrate import current_revision
from storage.models import Quote

MANIFEST = "manifest.json"
DB_FILE = "actionflow.db"
PG_DUMP = "actionflow.pgdump"
MEDIA = "data"


class BackupError(RuntimeError):
    """A backup or restore cannot go ahead; the message says why in plain words."""


@dataclass(frozen=True)
class LedgerHead:
    count: int
    seq: int
    hash: str


async def ledger_head(db: Database) -> LedgerHead:
    async with db.read() as session:
        count = int(await session.scalar(select(func.count()).select_from(Quote)) or 0)
        last = (
            await session.execute(select(Quote.seq, Quote.hash).order_by(Quote.seq.desc()).limit(1))
        ).first()
    return LedgerHead(count, last[0] if last else 0, last[1] if last else "")


def sqlite_copy(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def _is_empty(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _copy_media(source: Path, dest: Path, skip: set[Path]) -> int:
    copied = 0
    if not source.exists():
        dest.mkdir(parents=True, exist_ok=True)
        return 0
    for path in sorted(source.rglob("*")):
        if path.is_dir() or path.resolve() in skip or path.name.endswith(("-wal", "-shm")):
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied


def pg_dump_command(url: str, dest: Path) -> str:
    u = make_url(url)
    parts = ["pg_dump", "--format=custom", f"--file={dest / PG_DUMP}"]
    if u.host:
        parts.append(f"--host={u.host}")
    if u.port:
        parts.append(f"--port={u.port}")
    if u.username:
        parts.append(f"--username={u.username}")
    parts.append(str(u.database))
    return " ".join(parts) + ("  # the password: set PGPASSWORD or use ~/.pgpass" if u.password else "")


def pg_restore_command(url: str, source: Path) -> str:
    u = make_url(url)
    parts = ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={u.database}"]
    if u.host:
        parts.append(f"--host={u.host}")
    if u.port:
        parts.append(f"--port={u.port}")
    if u.username:
        parts.append(f"--username={u.username}")
    parts.append(str(source / PG_DUMP))
    return " ".join(parts)


async def database_facts(settings: Settings) -> tuple[LedgerHead, str | None]:
    """The quote ledger's head and the schema revision, for the manifest."""
    db = Database.from_settings(settings.database)
    try:
        await db.check()
        return await ledger_head(db), await current_revision(db)
    finally:
        await db.dispose()


def backup(settings: Settings, dest: Path, head: LedgerHead, revision: str | None) -> dict[str, Any]:
    """Write a backup into ``dest`` (which must be empty). Returns the manifest."""
    dest = dest.resolve()
    if not _is_empty(dest):
        raise BackupError(f"{dest} is not empty: choose a new folder for each backup")
    dest.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "actionflow": actionflow_version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "revision": revision,
        "ledger": {"quotes": head.count, "head_seq": head.seq, "head_hash": head.hash},
    }
    url = settings.database.url
    source = sqlite_path(url)
    skip: set[Path] = set()
    if make_url(url).get_backend_name() == "sqlite" and source is not None:
        sqlite_copy(source, dest / DB_FILE)
        skip.add(source.resolve())
        manifest["database"] = {"kind": "sqlite", "file": DB_FILE}
    else:
        manifest["database"] = {"kind": "postgresql", "file": PG_DUMP, "command": pg_dump_command(url, dest)}
    manifest["media"] = {
        "folder": MEDIA,
        "files": _copy_media(Path(settings.app.data_dir), dest / MEDIA, skip),
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.exists():
        raise BackupError(f"{source} is not an ActionFlow backup (no {MANIFEST})")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def restore_files(settings: Settings, source: Path, *, force: bool = False) -> dict[str, Any]:
    """Put a backup's database file (SQLite) and media back. Refuses a non-empty target unless
    ``force``. Returns the manifest; the caller verifies the ledger."""
    source = source.resolve()
    manifest = read_manifest(source)
    data_dir = Path(settings.app.data_dir)
    target_db = sqlite_path(settings.database.url)
    kind = manifest.get("database", {}).get("kind")
    if kind == "sqlite" and target_db is None:
        raise BackupError("the backup is of a SQLite database but database.url is not a SQLite file")
    occupied = [str(p) for p in (target_db, data_dir) if p is not None and p.exists() and not _is_empty(p)]
    if kind == "sqlite" and target_db is not None and target_db.exists() and target_db.stat().st_size == 0:
        occupied = [p for p in occupied if p != str(target_db)]
    if occupied and not force:
        raise BackupError(
            f"{', '.join(occupied)} already hold data; stop the bot and restore with --force to replace it"
        )
    if kind == "sqlite" and target_db is not None:
        for suffix in ("-wal", "-shm"):
            Path(f"{target_db}{suffix}").unlink(missing_ok=True)
        sqlite_copy(source / DB_FILE, target_db)
    if force and data_dir.exists():
        shutil.rmtree(data_dir)
    _copy_media(source / MEDIA, data_dir, set())
    return manifest


async def backup_before_migrating(db: Database, settings: Settings, head: str | None) -> Path | None:
    """On SQLite, copy the database aside before migrations change it (not a new, empty one)."""
    source = sqlite_path(db.url)
    if not db.is_sqlite or source is None:
        return None
    revision = await current_revision(db)
    if revision is None or revision == head:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = Path(settings.app.data_dir) / "backups" / f"before-{head}-from-{revision}-{stamp}.db"
    await asyncio.to_thread(sqlite_copy, source, dest)
    return dest
