"""``actionflow backup DIR`` and ``actionflow restore DIR``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli.common import EXIT_ERROR, run, settings_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backup",
        help="back up the database and the media folder into a new folder",
        description="SQLite: a consistent copy through SQLite's online backup API (safe while the bot "
        "runs). PostgreSQL: prints the pg_dump command to run. Both: copies app.data_dir (photos, "
        "voice notes, reports) and writes manifest.json with the quote ledger's head.",
    )
    p.add_argument("dir", type=Path, help="a new or empty folder")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore a backup made by `actionflow backup`, then verify the quote ledger",
        description="Stop the bot first. Refuses to overwrite a database or media folder that already "
        "holds data unless --force. PostgreSQL: prints the pg_restore command. Afterwards the quote "
        "ledger is verified with its audio (audit verify --audio) and compared with the backup's head.",
    )
    p.add_argument("dir", type=Path, help="the backup folder")
    p.add_argument("--force", action="store_true", help="replace the current database and media")
    p.set_defaults(func=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, backup, database_facts
    from storage.db import DatabaseUnavailable

    settings = settings_from(args)
    try:
        head, revision = asyncio.run(database_facts(settings))
    except DatabaseUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        manifest = backup(settings, args.dir, head, revision)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    db = manifest["database"]
    if db["kind"] == "postgresql":
        print("PostgreSQL: dump the database into the backup folder with:")
        print(f"  {db['command']}")
    print(f"media: {manifest['media']['files']} file(s) copied")
    ledger = manifest["ledger"]
    print(f"quote ledger: {ledger['quotes']} quote(s), head seq {ledger['head_seq']} {ledger['head_hash']}")
    print(f"backup written to {args.dir.resolve()}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, ledger_head, pg_restore_command, restore_files
    from speech.ledger import verify_chain
    from storage.db import Database

    settings = settings_from(args)
    try:
        manifest = restore_files(settings, args.dir, force=args.force)
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if manifest["database"]["kind"] == "postgresql":
        print("PostgreSQL: load the dump with the command below, then run `actionflow audit verify --audio`:")
        print(f"  {pg_restore_command(settings.database.url, args.dir.resolve())}")
        print(f"media restored into {settings.app.data_dir}")
        return 0

    async def verify() -> int:
        db = Database.from_settings(settings.database)
        try:
            async with db.read() as session:
                report = await verify_chain(session, check_audio=True)
            head = await ledger_head(db)
        finally:
            await db.dispose()
        if report.broken is not None:
            print(f"quote ledger BROKEN at {report.broken.describe()}")
            return EXIT_ERROR
        expected = manifest["ledger"]
        if (head.seq, head.hash) != (expected["head_seq"], expected["head_hash"]):
            print(f"quote ledger head is seq {head.seq}, the backup recorded seq {expected['head_seq']}")
            return EXIT_ERROR
        print(
            f"restored; quote ledger OK: {report.count} quote(s), "
            f"{report.audio_checked} audio file(s) re-hashed"
        )
        return 0

    return run(verify())
