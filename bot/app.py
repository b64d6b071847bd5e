"""The composition root: builds storage, handlers, channels, outbox sender and scheduler, and runs them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.dispatcher import Dispatcher
from bot.imports import StartupError, import_module
from bot.inbox import Inbox
from bot.incidents import Incidents
from bot.locks import KeyedLocks
from bot.metrics import Metrics, TimedTranscriber
from bot.outbox_sender import OutboxSender
from bot.web import WEB_MODULES
from bot.web.server import WebServer
from config.settings import Settings
from core.channel import Channel, GroupAddress, GroupLookup
from core.clock import Clock, SystemClock
from core.events import Event
from core.speech import Transcriber, TranscriberLoad
from domain import limits
from domain.files import FileStore
from domain.jobs import AppLike, RunContext, ScheduleError
from domain.notify import Notifier
from handlers.context import QuoteRecorder, Services
from handlers.forms.engine import FormEngine
from handlers.forms.spec import load_forms
from handlers.registry import MODULES, Registry, SweepHandler, build_registry
from handlers.router import Router
from scheduler.service import Scheduler
from storage.db import Database
from storage.migrate import upgrade
from storage.models import GroupTarget

log = logging.getLogger(__name__)

# An event still unprocessed this long after its claim is run again by the scheduler's sweep.
RERUN_UNFINISHED_AFTER = timedelta(minutes=2)

MAX_STEPS_IN_FLIGHT = 4

# Third-party packages voice transcription may run without (voice notes are then kept, not transcribed).
SPEECH_OPTIONAL = frozenset({"faster_whisper", "ctranslate2", "av"})


class ShuttingDown(RuntimeError):
    """Raised by ``submit`` while the application stops."""


def group_channels(settings: Settings) -> dict[str, str]:
    mapping: dict[str, str] = {}
    if settings.wecom.enabled:
        mapping.update({name: "wecom" for name in settings.wecom.groups})
    if settings.dingtalk.enabled:
        mapping.update({name: "dingtalk" for name in settings.dingtalk.groups})
    return mapping


class Application:
    """One running bot. ``async with Application(settings) as app:`` starts and stops it."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        channels: Sequence[Channel] | None = None,
        transcriber: Transcriber | None = None,
        quotes: QuoteRecorder | None = None,
        db: Database | None = None,
        modules: tuple[str, ...] = MODULES,
        scheduler_realtime: bool | None = None,
        jobs: bool = True,
        web_modules: tuple[str, ...] = WEB_MODULES,
    ) -> None:
        self.settings = settings
        limits.apply(settings.security)
        self.clock: Clock = clock or SystemClock()
        self.db = db or Database.from_settings(settings.database)
        self._explicit_channels = channels
        self.channels: dict[str, Channel] = {}
        self._transcriber = transcriber
        self._quotes = quotes
        self._modules = modules
        self._scheduler_realtime = scheduler_realtime
        self._jobs = jobs
        self._web_modules = web_modules
        self.web: WebServer | None = None
        self.metrics = Metrics()
        self.incidents = Incidents(self)
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.locks = KeyedLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[tuple[str, str]] = set()  # (channel, event id) queued or running here
        self._stop = asyncio.Event()
        self._accepting = True
        self._slots = asyncio.Semaphore(MAX_STEPS_IN_FLIGHT)
        self._sender_task: asyncio.Task[None] | None = None
        self.registry: Registry
        self.services: Services
        self.inbox: Inbox
        self.outbox: OutboxSender
        self.dispatcher: Dispatcher
        self.scheduler: Scheduler
        self.started = False

    # -- assembly -----------------------------------------------------------------
    def _build_channels(self) -> list[Channel]:
        if self._explicit_channels is not None:
            return list(self._explicit_channels)
        from bot.channels import build_channels

        return build_channels(self.settings, self.clock)

    def _build_speech(self) -> tuple[Transcriber | None, QuoteRecorder | None]:
        transcriber, quotes = self._transcriber, self._quotes
        if transcriber is None or quotes is None:
            speech = import_module("speech.service", optional=SPEECH_OPTIONAL, purpose="voice transcription")
            if speech is None:  # no transcription; a platform's recognition is still kept as the quote
                ledger = import_module("speech.ledger", purpose="the quote ledger")
                return transcriber, quotes or (ledger.QuoteLedger() if ledger is not None else None)
            built_t, built_q = speech.build(self.settings)
            transcriber = transcriber or built_t
            quotes = quotes or built_q
        return transcriber, quotes

    async def start(self, *, migrate: bool | None = None, receive: bool = True) -> None:
        settings = self.settings
        await self.db.check()
        if migrate if migrate is not None else settings.database.migrate_on_start:
            from bot.backup import backup_before_migrating
            from storage.migrate import head_revision

            saved = await backup_before_migrating(self.db, settings, head_revision())
            if saved is not None:
                log.info("database copied to %s before migrating", saved)
            await upgrade(self.db)
        self.registry = build_registry(self._modules)
        forms = load_forms(settings.forms.path, self.registry)
        channels = self._build_channels()
        self.channels = {c.name: c for c in channels}
        for channel in channels:
            channel.group_lookup = self._group_lookup(channel.name)
            if hasattr(channel, "database"):  # channels that keep their own state in the main database
                channel.database = self.db
        # Direct messages prefer a platform the person is on; the console comes last.
        order = tuple(sorted(self.channels, key=lambda name: name == "console"))
        notifier = Notifier(order, group_channels(settings))
        engine = FormEngine(
            forms,
            expire_hours=settings.forms.expire_hours,
            notifier=notifier,
            field_types=self.registry.field_types,
        )
        notifier.after_alert.append(engine.repeat_question)
        for name, completer in self.registry.completers.items():
            engine.register_completer(name, completer)
        for name, discarder in self.registry.discarders.items():
            engine.register_discarder(name, discarder)
        transcriber, quotes = self._build_speech()
        if transcriber is not None:
            speech = import_module("speech.service", optional=SPEECH_OPTIONAL, purpose="voice transcription")
            if speech is not None:  # the company's words steer the transcripts (docs/speech.md)
                speech.attach_vocabulary(transcriber, self.db, settings)
        timed = TimedTranscriber(transcriber, self.metrics) if transcriber is not None else None
        self.services = Services(
            settings=settings,
            clock=self.clock,
            notifier=notifier,
            files=FileStore(settings.app.data_dir),
            forms=engine,
            quotes=quotes,
            speech_load=transcriber if isinstance(transcriber, TranscriberLoad) else None,
        )
        self.inbox = Inbox(self.db, self.clock)
        self.outbox = OutboxSender(self.db, self.clock, self.channels, settings.outbox)
        self.dispatcher = Dispatcher(
            db=self.db,
            inbox=self.inbox,
            services=self.services,
            router=Router(self.registry),
            channels=self.channels,
            transcriber=timed,
            wake_outbox=self.outbox.wake,
            slots=self._slots,
        )
        self.dispatcher.observe = self.metrics.observe_event
        self.outbox.on_dead = self.incidents.dead_letters
        self.scheduler = Scheduler(self.db, self.clock, settings.app.timezone, holder=self.instance)
        self.scheduler.on_job_failed = self.incidents.job_failed
        self._register_sweeps(engine)
        self._register_jobs()
        self._stop.clear()
        self._accepting = True
        realtime = self._scheduler_realtime
        if realtime is None:
            realtime = isinstance(self.clock, SystemClock)
        if settings.scheduler.enabled and realtime:
            self.scheduler.start(settings.scheduler.sweep_interval_s, after_tick=self.outbox.wake)
        self.started = True
        for event in await self.inbox.unprocessed():
            self._spawn(event)
        if receive:
            for channel in channels:
                await channel.start(self)
        # After the channels: what a previous run left unsent goes out now, without burning attempts.
        self._sender_task = asyncio.create_task(self.outbox.run(self._stop), name="outbox-sender")
        if realtime:
            self.incidents.start()
        if settings.web.listen:
            self.web = WebServer(settings.web, self, self._web_modules)
            await self.web.start()
            self.services.extras["board_base_url"] = self.web.base_url  # for the `看板` link
        log.info("started", extra={"channels": ",".join(self.channels), "instance": self.instance})

    def _group_lookup(self, channel: str) -> GroupLookup:
        async def lookup(name: str) -> GroupAddress | None:
            async with self.db.read() as session:
                row = await session.get(GroupTarget, name)
            if row is None or row.channel != channel:
                return None
            return GroupAddress(row.kind, row.address, row.secret)

        return lookup

    def _register_sweeps(self, engine: FormEngine) -> None:
        async def expire_forms(now: Any) -> int:
            async with self.db.transaction() as session:
                return await engine.expire_due(session, now)

        self.scheduler.add_sweep("form-expiry", expire_forms)

        async def rerun_unfinished(now: datetime) -> int:
            # Events still waiting a while after their claim: a processing task that died, events put
            # back by `actionflow events retry`, or another instance's that it never finished. Running
            # one twice is safe: the late step finds it done and rolls back (bot/inbox.py).
            events = await self.inbox.unprocessed(before=now - RERUN_UNFINISHED_AFTER)
            for event in events:
                self._spawn(event)
            return len(events)

        self.scheduler.add_sweep("inbox-rerun", rerun_unfinished)
        for name, fn in self.registry.sweeps.items():
            self.scheduler.add_sweep(name, self._sweep_in_transaction(fn))

    def _sweep_in_transaction(self, fn: SweepHandler) -> Callable[[datetime], Awaitable[object]]:
        async def run(now: datetime) -> object:
            async with self.db.transaction() as session:
                return await fn(session, self.services, now)

        return run

    def _register_jobs(self) -> None:
        if not self._jobs:
            return
        jobs = import_module("scheduler.jobs", purpose="scheduled jobs")
        assert jobs is not None  # nothing is optional here: a broken import raises StartupError
        # Every job is declared on the registry and scheduled in one place. A tick runs them in the
        # order scheduled: the contact sync first, then the rest as declared (the features', at
        # build_registry, then the built-in jobs), so alerts caught up after downtime see the synced
        # roster.
        if self.settings.org.sync_from:
            from bot.contacts import scheduled_sync

            sync = scheduled_sync(self.db, self.settings, self.clock.now)

            async def org_sync(app: AppLike, ctx: RunContext) -> None:
                await sync(ctx)

            self.registry.job("org-sync", lambda s: s.org.sync_cron, org_sync)
        jobs.setup(self.registry)  # the built-in jobs, declared like a feature's
        ordered = sorted(self.registry.jobs.values(), key=lambda job: job.name != "org-sync")
        try:
            jobs.register(self.scheduler, self, ordered)
        except ScheduleError as exc:
            raise StartupError(str(exc)) from exc

    # -- EventSink ----------------------------------------------------------------
    async def submit(self, event: Event) -> bool:
        """Claim then process in the background. Channels ACK the platform once this returns.

        Raises :class:`ShuttingDown` while stopping: the channel must not acknowledge the event."""
        if not self._accepting:
            raise ShuttingDown("ActionFlow is stopping; the platform will deliver this event again")
        if not await self.inbox.claim(event, on_new=lambda: self._spawn(event)):
            log.info("duplicate event ignored", extra={"channel": event.channel, "event_id": event.event_id})
            return False
        return True

    def _spawn(self, event: Event) -> None:
        key = (event.channel, event.event_id)
        if key in self._in_flight:  # already queued or running here
            return
        self._in_flight.add(key)
        task = asyncio.create_task(self._run_serialised(event), name=f"event-{event.event_id}")
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._in_flight.discard(key)

        task.add_done_callback(done)

    async def _run_serialised(self, event: Event) -> None:
        # The user's lock first (so one person's queue waits idle), then a processing slot: a few
        # steps in flight keep each transaction short instead of interleaving hundreds of them.
        async with self.locks.hold(event.user_key), self._slots:
            await self.dispatcher.process(event)

    # -- control ------------------------------------------------------------------
    async def idle(self) -> None:
        """Wait until every claimed event is processed and everything due is delivered."""
        while True:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.outbox.drain()
            if not self._tasks:
                return

    async def tick(self) -> list[str]:
        """Run due scheduled work at the clock's current time, then settle."""
        ran = await self.scheduler.tick()
        await self.idle()
        return ran

    async def stop(self) -> None:
        """Stop taking events, finish the steps in progress, deliver what is due, then close channels.

        Events arriving meanwhile are refused (not acknowledged), so the platform delivers them again
        after the restart; messages that cannot be delivered now stay in the outbox for the next start.
        """
        if not self.started:
            await self.db.dispose()
            return
        self._accepting = False
        await self.incidents.stop()
        await self.scheduler.close()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._stop.set()
        self.outbox.wake()
        if self._sender_task is not None:
            await self._sender_task
        try:
            await asyncio.wait_for(self.outbox.drain(max_rounds=20), timeout=10)
        except Exception:
            log.warning("outbox not fully drained at stop; the rest is sent after the next start")
        self.outbox.close()
        if self.web is not None:
            await self.web.stop()
            self.web = None
        for channel in self.channels.values():
            try:
                await channel.stop()
            except Exception:
                log.exception("stopping channel %s failed", channel.name)
        await self.db.dispose()
        self.started = False

    async def __aenter__(self) -> Application:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
