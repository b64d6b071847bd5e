"""People on the command line: ``import users``, ``export users`` and ``sync users``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.cli.common import EXIT_ERROR, run, settings_from
from config.settings import Settings
from core.clock import SystemClock
from domain.person_changes import Change
from domain.roster.files import RosterFileError, read_roster, write_roster
from domain.roster.importer import ImportResult, RosterInvalid, export_rows, import_roster
from storage.db import Database
from storage.migrate import upgrade


def check_org(settings: Settings) -> list[str]:
    """``check-config``: the scheduled sync can run."""
    from scheduler.service import validate_cron

    problems = []
    org = settings.org
    if org.sync_from:
        reason = validate_cron(org.sync_cron, settings.app.timezone)
        if reason:
            problems.append(f"org.sync_cron: not a valid cron expression ({reason})")
        from bot.contacts import ContactsUnavailable, build_source

        try:
            build_source(settings, org.sync_from)
        except ContactsUnavailable as exc:
            problems.append(f"org.sync_from is {org.sync_from} but {exc}")
    return problems


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sync", help="update people from the DingTalk or WeCom contacts")
    what = p.add_subparsers(dest="what", metavar="<what>")
    users = what.add_parser(
        "users",
        help="read departments and members from a platform's contacts and update people",
        description="Read departments and members through the platform's contact API and update "
        "people: add newcomers, update names/titles/teams, set department leaders as supervisors "
        "(org.leaders_are_supervisors), deactivate people who left. Nobody is deleted. Everything is "
        "fetched first and applied in one transaction: an API error changes nothing.",
    )
    users.add_argument("--from", dest="source", choices=["dingtalk", "wecom"], help="default: org.sync_from")
    users.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    users.set_defaults(func=cmd_sync_users)

    def sync_help(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=sync_help)


def register_import(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "users",
        help="import people from a CSV or XLSX file (validated first, all or nothing)",
        description="One row per person; columns are documented in docs/org.md (example: "
        "config/users.example.csv). Every row is checked first and every problem is reported with its "
        "line number; then everything is applied in one transaction, or nothing. Re-importing the same "
        "file changes nothing. People not in the file are left alone unless --deactivate-missing.",
    )
    p.add_argument("file", type=Path, help="the .csv or .xlsx file")
    p.add_argument(
        "--deactivate-missing",
        action="store_true",
        help="deactivate active people who are not in the file (nobody is deleted)",
    )
    p.add_argument("--dry-run", action="store_true", help="check and show what would change, change nothing")
    p.set_defaults(func=cmd_import_users)


def register_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "users",
        help="write everyone to a CSV or XLSX file in the format `import users` reads",
    )
    p.add_argument("file", type=Path, help="the .csv or .xlsx file to write")
    p.add_argument(
        "--lang", choices=["en", "zh"], default="en", help="header and role words: English or Chinese"
    )
    p.set_defaults(func=cmd_export_users)


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[Database]:
    db = Database.from_settings(settings.database)
    try:
        await db.check()
        await upgrade(db)
        yield db
    finally:
        await db.dispose()


class _DryRun(Exception):
    def __init__(self, result: object) -> None:
        super().__init__("dry run")
        self.result = result


def print_changes(changes: list[Change], *, dry_run: bool = False) -> None:
    for change in changes:
        print(f"  {change.describe()}")
    counts = {
        k: sum(1 for c in changes if c.kind == k) for k in ("added", "updated", "deactivated", "reactivated")
    }
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    note = " (dry run: none applied)" if dry_run else ""
    print(f"{len(changes)} changes{note}" + (f": {summary}" if changes else ""))


# -- import / export ---------------------------------------------------------------------
def cmd_import_users(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    path: Path = args.file
    try:
        roster = read_roster(path)
    except RosterFileError as exc:
        _problems(path, exc.problems)
        return EXIT_ERROR

    async def go() -> int:
        async with _database(settings) as db:
            try:
                async with db.transaction() as session:
                    result = await import_roster(
                        session,
                        roster,
                        now=SystemClock().now(),
                        source=f"import:{path.name}",
                        deactivate_missing=args.deactivate_missing,
                    )
                    if args.dry_run:
                        raise _DryRun(result)
            except RosterInvalid as exc:
                _problems(path, exc.problems)
                return EXIT_ERROR
            except _DryRun as dry:
                assert isinstance(dry.result, ImportResult)
                _report(path, dry.result, dry_run=True)
                return 0
        _report(path, result)
        return 0

    return run(go())


def _problems(path: Path, problems: list[str]) -> None:
    print(f"{path}: {len(problems)} problem(s); nothing was changed:", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


def _report(path: Path, result: ImportResult, *, dry_run: bool = False) -> None:
    print(f"{path}: {result.people} people" + (" (dry run: nothing was changed)" if dry_run else ""))
    print_changes(result.changes, dry_run=dry_run)
    for warning in result.warnings:
        print(f"warning: {warning}")


def cmd_export_users(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    path: Path = args.file

    async def go() -> int:
        async with _database(settings) as db, db.read() as session:
            rows = await export_rows(session, lang=args.lang)
        try:
            write_roster(path, rows, lang=args.lang)
        except RosterFileError as exc:
            _problems(path, exc.problems)
            return EXIT_ERROR
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"wrote {len(rows)} people to {path}")
        return 0

    return run(go())


# -- sync ----------------------------------------------------------------------------------
def cmd_sync_users(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    source = args.source or settings.org.sync_from
    if not source:
        print(
            "error: say where from: --from dingtalk or --from wecom (or set org.sync_from)", file=sys.stderr
        )
        return EXIT_ERROR
    from bot.contacts import ContactsUnavailable, run_sync

    async def go() -> int:
        async with _database(settings) as db:
            try:
                report = await run_sync(db, settings, source, now=SystemClock().now(), dry_run=args.dry_run)
            except ContactsUnavailable as exc:
                print(f"error: {exc}; nothing was changed", file=sys.stderr)
                return EXIT_ERROR
        head = f"{source}: {report.members} people in {report.departments} departments"
        print(head + (" (dry run: nothing was changed)" if args.dry_run else ""))
        print_changes(report.changes, dry_run=args.dry_run)
        for warning in report.warnings:
            print(f"warning: {warning}")
        return 0

    return run(go())
