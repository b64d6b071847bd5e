"""Contact sync, runtime side: pick the platform's contact client, fetch everything, apply in ONE
transaction (``domain.contacts``), and the scheduled job (``org.sync_from`` + ``org.sync_cron``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from config.settings import Settings
from domain.contacts import ContactsError, ContactSource, SyncOptions, SyncReport, plan_and_apply
from storage.db import Database

log = logging.getLogger(__name__)


class ContactsUnavailable(RuntimeError):
    """The sync could not run (platform API error, not configured…); nothing was changed."""


def build_source(settings: Settings, platform: str) -> ContactSource:
    """The platform's contact client, built from its channel settings (token handling included)."""
    raise ContactsUnavailable(
        f"reading the {platform} contacts is not available in this build (the {platform} channel's "
        "contact client is missing)"
    )


def options_from(settings: Settings) -> SyncOptions:
    org = settings.org
    return SyncOptions(
        leaders_are_supervisors=org.leaders_are_supervisors,
        departments=tuple(org.sync_departments),
        member_roles=tuple(org.sync_member_roles),
        leader_roles=tuple(org.sync_leader_roles),
        match_by_name=org.sync_match_by_name,
    )


class _Rollback(Exception):
    def __init__(self, report: SyncReport) -> None:
        super().__init__("dry run")
        self.report = report


async def run_sync(
    db: Database,
    settings: Settings,
    platform: str,
    *,
    now: datetime,
    dry_run: bool = False,
    source: ContactSource | None = None,
) -> SyncReport:
    """Fetch the whole directory first, then apply it in one transaction (nothing on any error)."""
    source = source or build_source(settings, platform)
    try:
        directory = await source.fetch()
    except ContactsError as exc:
        raise ContactsUnavailable(f"{platform} contacts: {exc}") from exc
    try:
        async with db.transaction() as session:
            report = await plan_and_apply(
                session, directory, options_from(settings), now=now, source=f"sync:{platform}"
            )
            if dry_run:
                raise _Rollback(report)
    except _Rollback as rollback:
        return rollback.report
    except ContactsError as exc:
        raise ContactsUnavailable(f"{platform} contacts: {exc}") from exc
    return report


def scheduled_sync(
    db: Database, settings: Settings, clock_now: Callable[[], datetime]
) -> Callable[[object], Awaitable[None]]:
    """The periodic job: one sync from ``org.sync_from``; a failure is recorded in ``job_runs``."""

    async def job(_ctx: object) -> None:
        platform = settings.org.sync_from
        report = await run_sync(db, settings, platform, now=clock_now())
        log.info(
            "contact sync done",
            extra={"platform": platform, "members": report.members, "changes": len(report.changes)},
        )
        for change in report.changes:
            log.info("contact sync: %s", change.describe())
        for warning in report.warnings:
            log.warning("contact sync: %s", warning)

    return job
