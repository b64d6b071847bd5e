"""Operations subcommands: status (what needs attention), outbox retry, events retry."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.cli.common import EXIT_OK, fail, run, settings_from
from bot.version import actionflow_version
from config.settings import Settings
from core.clock import SystemClock
from domain.health import Health, one_line, requeue_dead, requeue_failed, snapshot
from storage.db import Database, sqlite_path
from storage.migrate import upgrade
from storage.models import InboxStatus, JobRunStatus, OutboxStatus

EXIT_ATTENTION = 3  # `status`: dead messages, failed events or a failed job run


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status",
        help="what needs attention: outbox backlog and dead messages, failed events, scheduled jobs",
        description="Show the outbox (messages waiting, dead after their last attempt), events whose "
        "handling failed or never finished, and each scheduled job's last run. Exits 3 when a "
        "message is dead, an event failed or a job's last run failed, so a monitor can watch it.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--limit", type=int, default=5, help="how many dead messages and failed events to list")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("outbox", help="outbox tools: send dead messages again")
    outbox = p.add_subparsers(dest="action", metavar="<action>")
    p.set_defaults(func=lambda args, p=p: (p.print_help(), 2)[1])
    retry = outbox.add_parser(
        "retry",
        help="put dead messages back in the queue (after fixing what killed them)",
        description="Dead messages (see `actionflow status`) go back to the queue with a fresh set of "
        "attempts. A running bot sends them within its poll interval; otherwise the next start does.",
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID", help="outbox message ids")
    which.add_argument("--all", action="store_true", help="every dead message")
    retry.set_defaults(func=cmd_outbox_retry)

    p = sub.add_parser("events", help="inbox tools: handle failed events again")
    events = p.add_subparsers(dest="action", metavar="<action>")
    p.set_defaults(func=lambda args, p=p: (p.print_help(), 2)[1])
    retry = events.add_parser(
        "retry",
        help="handle failed events again (after fixing the cause)",
        description="Events whose handling failed (see `actionflow status`) are marked unprocessed; "
        "the running bot's sweep handles them within a few minutes, or the next start does, like "
        "events a crash left unfinished.",
    )
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("keys", nargs="*", default=[], metavar="CHANNEL:EVENT_ID", help="failed events")
    which.add_argument("--all", action="store_true", help="every failed event")
    retry.set_defaults(func=cmd_events_retry)


async def _open(settings: Settings) -> Database:
    path = sqlite_path(settings.database.url)
    if path is not None and not path.exists():
        # Creating an empty database here would report "nothing needs attention" for a wrong path.
        fail(f"there is no database at {path}: check database.url (the bot creates it when it first starts)")
    db = Database.from_settings(settings.database)
    try:
        await db.check()
        await upgrade(db)
    except BaseException:
        await db.dispose()
        raise
    return db


def cmd_status(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> int:
        db = await _open(settings)
        try:
            async with db.read() as session:
                health = await snapshot(session, SystemClock().now(), limit=max(args.limit, 0))
        finally:
            await db.dispose()
        if args.json:
            print(
                json.dumps(
                    {"version": actionflow_version(), **health.to_dict()}, ensure_ascii=False, indent=2
                )
            )
        else:
            print(f"ActionFlow {actionflow_version()}")
            print(status_text(health, ZoneInfo(settings.app.timezone)))
        return EXIT_ATTENTION if health.needs_attention else EXIT_OK

    return run(go())


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _age(value: datetime, now: datetime) -> str:
    minutes = max(int((now - value).total_seconds() // 60), 0)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} days"


def status_text(health: Health, tz: ZoneInfo) -> str:
    """The status report in plain words, one section each for the outbox, the inbox and the jobs."""
    out = health.outbox
    lines = [
        "Outbox: "
        + ", ".join(
            f"{out.get(s, 0)} {s}"
            for s in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT, OutboxStatus.DEAD)
        )
        + (
            f"; oldest waiting since {_when(health.oldest_pending, tz)}"
            f" ({_age(health.oldest_pending, health.now)})"
            if health.oldest_pending
            else ""
        )
    ]
    for m in health.dead:
        lines.append(
            f"  dead #{m.id} to {m.channel} {m.target_kind} {m.target}, queued {_when(m.created_at, tz)}, "
            f"{m.attempts} attempts: {one_line(m.error, 100) or '(no error recorded)'}"
        )
    if out.get(OutboxStatus.DEAD):
        lines.append("  send them again once fixed: actionflow outbox retry --all (or the ids)")
    ev = health.events
    lines.append(
        "Events: "
        + ", ".join(
            f"{ev.get(s, 0)} {s}" for s in (InboxStatus.DONE, InboxStatus.RECEIVED, InboxStatus.FAILED)
        )
        + (
            f"; unfinished since {_when(health.oldest_unprocessed, tz)} (the running bot retries"
            " those older than 2 minutes at each sweep)"
            if health.oldest_unprocessed
            else ""
        )
    )
    for e in health.failed:
        lines.append(
            f"  failed {e.channel}:{e.event_id} ({e.kind} from {e.user_key}, {_when(e.received_at, tz)}): "
            f"{one_line(e.error, 100) or '(no error recorded)'}"
        )
    if ev.get(InboxStatus.FAILED):
        lines.append("  handle them again once fixed: actionflow events retry --all (or CHANNEL:EVENT_ID)")
    lines.append("Scheduled jobs (last run):" if health.jobs else "Scheduled jobs: none has run yet")
    for j in health.jobs:
        error = f": {one_line(j.error, 100)}" if j.status == JobRunStatus.FAILED and j.error else ""
        lines.append(f"  {j.job} {j.period}: {j.status}, started {_when(j.started_at, tz)}{error}")
    lines.append("Needs attention." if health.needs_attention else "Nothing needs attention.")
    return "\n".join(lines)


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    settings = settings_from(args)

    async def go() -> int:
        db = await _open(settings)
        try:
            async with db.transaction() as session:
                count = await requeue_dead(session, SystemClock().now(), None if args.all else args.ids)
        finally:
            await db.dispose()
        print(f"{count} dead message(s) queued again.")
        if not args.all and count < len(set(args.ids)):
            missing = len(set(args.ids)) - count
            print(f"{missing} of the ids given are not dead messages (see `actionflow status`).")
        return EXIT_OK

    return run(go())


def _event_keys(raw: list[str]) -> list[tuple[str, str]]:
    keys = []
    for item in raw:
        channel, sep, event_id = item.partition(":")
        if not sep or not channel or not event_id:
            fail(f"{item!r} is not CHANNEL:EVENT_ID (e.g. dingtalk:msg123; see `actionflow status`)")
        keys.append((channel, event_id))
    return keys


def cmd_events_retry(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    keys = None if args.all else _event_keys(args.keys)

    async def go() -> int:
        db = await _open(settings)
        try:
            async with db.transaction() as session:
                count = await requeue_failed(session, keys)
        finally:
            await db.dispose()
        print(
            f"{count} failed event(s) will be handled again: by the running bot within a few minutes "
            "(its sweep), or at its next start."
        )
        if keys is not None and count < len(set(keys)):
            print(f"{len(set(keys)) - count} of the events given have not failed (see `actionflow status`).")
        return EXIT_OK

    return run(go())
