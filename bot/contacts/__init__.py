"""Contact sync, runtime side: pick the platform's contact client, fetch everything, apply in ONE
transaction (``domain.contacts``), and the scheduled job (``org.sync_from`` + ``org.sync_cron``).

The platform sources are small modules of their own: :mod:`bot.contacts.dingtalk` and
:mod:`bot.contacts.wecom`; both are built from the channel's settings (the app's credentials)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from config.settings import Settings
from core.clock import Clock, SystemClock
from domain.contacts import ContactsError, ContactSource, SyncOptions, SyncReport, plan_and_apply
from storage.db import Database

log = logging.getLogger(__name__)


class ContactsUnavailable(RuntimeError):
    """The sync could not run (platform API error, not configured…); nothing was changed."""


def build_source(settings: Settings, platform: str, *, clock: Clock | None = None) -> ContactSource:
    """The platform's contact client, built from its channel settings (token handling included).

    Raises :class:`ContactsUnavailable`, saying what to set, when the platform is not configured."""
    if platform == "dingtalk":
        dt = settings.dingtalk
        missing = [k for k in ("client_id", "client_secret") if not _value(getattr(dt, k))]
        _require(platform, dt.enabled, missing, "the app's AppKey and AppSecret")
        from bot.contacts.dingtalk import DingTalkContacts

        return DingTalkContacts(dt, clock or SystemClock())
    if platform == "wecom":
        wc = settings.wecom
        missing = [k for k in ("corp_id", "secret") if not _value(getattr(wc, k))]
        _require(platform, wc.enabled, missing, "the CorpID and the self-built app's Secret")
        from bot.contacts.wecom import WeComContacts

        return WeComContacts(wc)
    raise ContactsUnavailable(f"unknown platform {platform!r}: use dingtalk or wecom")


def _value(field: object) -> str:
    getter = getattr(field, "get_secret_value", None)
    return str(getter() if getter else field or "").strip()


def _require(platform: str, enabled: bool, missing: list[str], what: str) -> None:
    problems = [] if enabled else [f"{platform}.enabled = true"]
    problems += [f"{platform}.{k}" for k in missing]
    if problems:
        raise ContactsUnavailable(
            f"the {platform} channel is not configured: set {', '.join(problems)} (the sync reads the "
            f"contacts with {what}; see docs/org.md)"
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
    clock: Clock | None = None,
) -> SyncReport:
    """Fetch the whole directory first, then apply it in one transaction (nothing on any error)."""
    source = source or build_source(settings, platform, clock=clock)
    try:
        directory = await source.fetch()
    except ContactsError as exc:
        raise ContactsUnavailable(f"{platform} contacts: {exc}") from exc
    if not any(m.active for m in directory.members):
        # An app whose contact scope shrank to nothing must not deactivate the whole company.
        raise ContactsUnavailable(
            f"{platform} contacts: the platform returned no members at all (check the app's contact "
            "permission and scope); refusing to deactivate everyone"
        )
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


class _CallClock:
    """A :class:`Clock` over the application's ``clock.now`` (token expiry follows the app's clock)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now


def scheduled_sync(
    db: Database, settings: Settings, clock_now: Callable[[], datetime]
) -> Callable[[object], Awaitable[None]]:
    """The periodic job: one sync from ``org.sync_from``; a failure is recorded in ``job_runs``."""
    clock = _CallClock(clock_now)

    async def job(_ctx: object) -> None:
        platform = settings.org.sync_from
        report = await run_sync(db, settings, platform, now=clock_now(), clock=clock)
        log.info(
            "contact sync done",
            extra={"platform": platform, "members": report.members, "changes": len(report.changes)},
        )
        for change in report.changes:
            log.info("contact sync: %s", change.describe())
        for warning in report.warnings:
            log.warning("contact sync: %s", warning)

    return job
