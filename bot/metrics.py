"""Prometheus metrics of one running bot (``/metrics``; bot/web/health.py serves them).

Counters and histograms are updated as things happen (events, step latency, transcriptions); the
figures the database knows better (outbox pending/dead per channel, job runs by outcome, the inbox)
are read when Prometheus scrapes, so every instance reports the same shared state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from core.speech import Transcriber, Transcript
from storage.models import JobRun, OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from bot.app import Application

STEP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SPEECH_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


class _Snapshot(Collector):
    """Families read from the database just before a scrape."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter(
            "actionflow_events", "Events processed, by kind and outcome.", ["kind", "outcome"], registry=r
        )
        self.step_seconds = Histogram(
            "actionflow_step_seconds",
            "Time from starting an event's processing to its step committed, by kind.",
            ["kind"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.transcription_seconds = Histogram(
            "actionflow_transcription_seconds",
            "Time a voice note took to transcribe (queue wait included).",
            buckets=SPEECH_BUCKETS,
            registry=r,
        )
        self.transcription_queue = Gauge(
            "actionflow_transcription_queue", "Voice notes waiting for a transcription worker.", registry=r
        )
        self.transcription_running = Gauge(
            "actionflow_transcription_running", "Voice notes being transcribed now.", registry=r
        )
        self.leader = Gauge(
            "actionflow_scheduler_leader", "1 when this instance runs the scheduled jobs.", registry=r
        )
        self.channel_up = Gauge(
            "actionflow_channel_connected",
            "1 when the channel's platform link is up.",
            ["channel"],
            registry=r,
        )
        self.dead_letters = Counter(
            "actionflow_outbox_dead_letters", "Messages this instance gave up on.", ["channel"], registry=r
        )
        self._snapshot = _Snapshot()
        r.register(self._snapshot)

    def observe_event(self, kind: str, outcome: str, seconds: float) -> None:
        self.events.labels(kind, outcome).inc()
        self.step_seconds.labels(kind).observe(seconds)

    async def refresh(self, app: Application) -> None:
        """Read the shared figures from the database and the live ones from the process."""
        async with app.db.read() as session:
            outbox = (
                await session.execute(
                    select(OutboxMessage.channel, OutboxMessage.status, func.count())
                    .where(
                        OutboxMessage.status.in_(
                            (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD)
                        )
                    )
                    .group_by(OutboxMessage.channel, OutboxMessage.status)
                )
            ).all()
            jobs = (
                await session.execute(
                    select(JobRun.job, JobRun.status, func.count()).group_by(JobRun.job, JobRun.status)
                )
            ).all()
        queued = GaugeMetricFamily(
            "actionflow_outbox_messages",
            "Outbox messages not yet sent, by channel and status.",
            labels=["channel", "status"],
        )
        for channel, status, count in outbox:
            queued.add_metric([channel, status], count)
        runs = GaugeMetricFamily(
            "actionflow_job_runs",
            "Scheduled job runs recorded, by job and outcome.",
            labels=["job", "outcome"],
        )
        for job, status, count in jobs:
            runs.add_metric([job, status], count)
        self._snapshot.families = [queued, runs]
        load = app.services.speech_load if app.started else None
        if load is not None:
            self.transcription_queue.set(load.queue_depth)
            self.transcription_running.set(load.in_progress)
        leader = getattr(app.scheduler, "leader", None) if app.started else None
        self.leader.set(1 if leader is not None and leader.holds() else 0)
        for name, link in app.channels.items():
            up = link.connected()
            if up is not None:
                self.channel_up.labels(name).set(1 if up else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class TimedTranscriber:
    """The speech port, timed for ``actionflow_transcription_seconds``."""

    def __init__(self, inner: Transcriber, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def transcribe(
        self, path: Path, *, audio_format: str = "", platform_recognition: str | None = None
    ) -> Transcript:
        started = time.perf_counter()
        try:
            return await self.inner.transcribe(
                path, audio_format=audio_format, platform_recognition=platform_recognition
            )
        finally:
            self.metrics.transcription_seconds.observe(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
