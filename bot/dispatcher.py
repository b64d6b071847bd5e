"""Processes one claimed event: fetch/transcribe media outside any transaction, then run the event's
path of named steps (``handlers.router.STEPS``) in ONE transaction (domain writes + outbox + inbox
done), and log one line naming the step that answered."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text

from bot.inbox import AlreadyHandled, Inbox
from core.channel import Channel
from core.events import ApprovalEvent, Event, FileEvent, ImageEvent, VoiceEvent
from core.messages import Text
from core.speech import NoSpeechModel, Transcriber, Transcript, TranscriptionRejected, platform_only
from domain.audio import duration_s, sniff_audio_format
from domain.directory import find_by_platform_id
from domain.outbox import enqueue
from domain.photos import is_image, too_many_pixels
from handlers.context import Services
from handlers.router import EventPath, Prepared, Router
from storage.db import Database
from storage.models import UserStatus

log = logging.getLogger("actionflow.events")

MAX_MEDIA_BYTES = 25 * 1024 * 1024
# The outcome logged for the steps that are not an ordinary answer.
OUTCOMES = {"unknown_sender": "unknown-sender", "already-handled": "already-handled"}
APOLOGY = "抱歉，处理这条消息时出错了，已记录下来。请稍后再试，或联系管理员。"
NO_SPEECH = "语音转写服务未启用，原始录音已保存。请联系管理员。"


def _extension(event: VoiceEvent | ImageEvent | FileEvent) -> str:
    name = event.media.filename
    if "." in name:
        return name.rsplit(".", 1)[1][:10]
    if isinstance(event, VoiceEvent) and event.format:
        return event.format
    mime = event.media.mime
    if "/" in mime:
        return mime.split("/", 1)[1].split(";")[0][:10]
    return "jpg" if isinstance(event, ImageEvent) else "bin"


def _platform_only(event: VoiceEvent, path: str, sha256: str, data: bytes) -> Transcript | None:
    """Without a local model, a note that carries the platform's recognition is kept with that text
    (the ledger records that there is no local transcript); without one there is nothing to keep."""
    heard = (event.platform_recognition or "").strip()
    if not heard:
        return None
    fmt = sniff_audio_format(data) or event.format
    seconds = event.duration_ms / 1000 if event.duration_ms else duration_s(data, fmt)
    return platform_only(
        platform_recognition=heard,
        duration_s=seconds or 0.0,
        audio_path=path,
        audio_sha256=sha256,
        audio_format=fmt[:20],
    )


def _without_model(media_id: int, kept: Transcript | None, refusal: str) -> Prepared:
    return Prepared(media_id=media_id, transcript=kept, error=None if kept is not None else refusal)


class Dispatcher:
    def __init__(
        self,
        *,
        db: Database,
        inbox: Inbox,
        services: Services,
        router: Router,
        channels: Mapping[str, Channel],
        transcriber: Transcriber | None,
        wake_outbox: Callable[[], None],
        slots: asyncio.Semaphore | None = None,
    ) -> None:
        self.db = db
        self.inbox = inbox
        self.services = services
        self.router = router
        self.channels = channels
        self.transcriber = transcriber
        self.observe: Callable[[str, str, float], None] | None = None  # metrics: (kind, outcome, s)
        self.wake_outbox = wake_outbox
        # The application's processing slots (held around process()). A voice note gives its slot back
        # while it waits for the transcriber: the transcriber has its own bounded queue, and a burst of
        # notes must not take every slot and stall other people's messages.
        self.slots = slots

    @asynccontextmanager
    async def _slot_released(self) -> AsyncIterator[None]:
        if self.slots is None:
            yield
            return
        self.slots.release()
        try:
            yield
        finally:
            await asyncio.shield(self.slots.acquire())

    async def process(self, event: Event) -> None:
        started = time.perf_counter()
        outcome, step = "ok", ""
        try:
            step = await self._process(event)
            outcome = {"unknown_sender": "unknown-sender", "already-handled": "already-handled"}.get(
                step, "ok"
            )
        except AlreadyHandled:
            outcome = "already-handled"  # rolled back: the other worker's result stands
        except Exception as exc:
            outcome = "error"
            log.exception("event failed", extra={"channel": event.channel, "event_id": event.event_id})
            try:
                await self.inbox.mark_failed(event, f"{type(exc).__name__}: {exc}")
                await self._apologise(event)
            except Exception:
                log.exception("could not record the failure of %s", event.event_id)
        finally:
            self.wake_outbox()
            if self.observe is not None:
                self.observe(event.kind, outcome, time.perf_counter() - started)
            log.info(
                "event handled",
                extra={
                    "channel": event.channel,
                    "event_id": event.event_id,
                    "kind": event.kind,
                    "sender": event.sender_id,
                    "outcome": outcome,
                    "step": step,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )

    async def _process(self, event: Event) -> str:
        """The name of the step that answered (or ``already-handled``)."""
        prepared = Prepared()
        if isinstance(event, VoiceEvent | ImageEvent | FileEvent):
            # Media is fetched (and voice transcribed) before the step's transaction opens, and only
            # for people we know: nothing is downloaded or stored for unknown senders.
            async with self.db.read() as session:
                known = await find_by_platform_id(session, event.channel, event.sender_id)
            if known is not None and known.status == UserStatus.ACTIVE:
                prepared = await self._prepare(event)
        async with self.db.transaction() as session:
            if not self.db.is_sqlite:
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": event.user_key}
                )
                # Another instance may have handled it while we waited (instances re-run unprocessed
                # events at start and in their sweep). SQLite needs no look: it has one writer, and
                # the done mark below refuses an event handled meanwhile.
                if not await Inbox.waiting(session, event):
                    return "already-handled"
            path = EventPath(session, event, self.services, self.router.registry, prepared)
            step = await self.router.run(path)
            await Inbox.mark_done(session, event, self.services.clock.now())
        return step

    async def _prepare(self, event: VoiceEvent | ImageEvent | FileEvent) -> Prepared:
        channel = self.channels.get(event.channel)
        if channel is None:
            return Prepared(error="这个渠道当前未启用，无法下载文件。")
        try:
            data = await channel.fetch_media(event.media)
        except Exception:
            log.exception("media download failed", extra={"event_id": event.event_id})
            return Prepared(error="文件下载失败，请重新发送一次。")
        if not data:
            return Prepared(error="收到的文件是空的，请重新发送。")
        if len(data) > MAX_MEDIA_BYTES:
            return Prepared(error=f"文件太大（{len(data) // 1048576} MB），最大 25 MB。")
        if isinstance(event, ImageEvent) and (too_large := too_many_pixels(data)):
            return Prepared(error=too_large)
        if isinstance(event, VoiceEvent) and not event.format:  # the platform did not say: look at the bytes
            event = event.model_copy(update={"format": sniff_audio_format(data)})
        if isinstance(event, VoiceEvent):
            kind = "audio"
        else:  # a "picture" that is not one is kept as a file; a photo field then asks again
            kind = "photo" if isinstance(event, ImageEvent) and is_image(data) else "file"
        now = self.services.clock.now()
        async with self.db.transaction() as session:
            media = await self.services.files.record(
                session,
                now=now,
                data=data,
                kind=kind,
                ext=_extension(event),
                mime=event.media.mime,
                original_name=event.media.filename,
                channel=event.channel,
            )
            media_id, media_path, media_sha256 = media.id, media.path, media.sha256
            if isinstance(event, VoiceEvent) and self.transcriber is not None:
                await enqueue(
                    session,
                    now=now,
                    channel=event.channel,
                    target_kind="user",
                    target=event.sender_id,
                    message=Text(text="正在转写…"),
                    key=f"transcribing:{event.channel}:{event.event_id}",
                )
        if not isinstance(event, VoiceEvent):
            return Prepared(media_id=media_id)
        stored = (media_path, media_sha256, data)
        if self.transcriber is None:
            return _without_model(media_id, _platform_only(event, *stored), NO_SPEECH)
        self.wake_outbox()
        try:
            async with self._slot_released():
                transcript = await self.transcriber.transcribe(
                    Path(media_path),
                    audio_format=event.format,
                    platform_recognition=event.platform_recognition,
                )
        except NoSpeechModel as exc:
            return _without_model(media_id, _platform_only(event, *stored), exc.user_message)
        except TranscriptionRejected as exc:
            return Prepared(media_id=media_id, error=exc.user_message)
        except Exception:
            log.exception("transcription failed", extra={"event_id": event.event_id})
            return Prepared(media_id=media_id, error="语音转写失败，请再发一次。")
        return Prepared(media_id=media_id, transcript=transcript)

    async def _apologise(self, event: Event) -> None:
        if isinstance(event, ApprovalEvent):
            return
        async with self.db.transaction() as session:
            await enqueue(
                session,
                now=self.services.clock.now(),
                channel=event.channel,
                target_kind="user",
                target=event.sender_id,
                message=Text(text=APOLOGY),
                key=f"error:{event.channel}:{event.event_id}",
            )
