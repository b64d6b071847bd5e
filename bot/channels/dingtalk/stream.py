"""The ``dingtalk-stream`` SDK client, run in a thread of its own with its own event loop: the SDK makes
blocking HTTP calls on its loop (opening a connection, for one), and the bot's loop must not wait for
them. A supervisor on that loop watches the connection:

* the socket dropped abruptly: 0.24.3 sleeps a fixed 10 s before reconnecting; the supervisor restarts
  the client after ``reconnect_min_s`` instead, doubling up to ``reconnect_max_s`` while it keeps failing;
* no frame at all (the gateway pings regularly) for ``liveness_timeout_s``, by the bot's clock: a
  half-open connection; the client is recreated;
* stopping: 0.24.3 swallows the first ``cancel()`` and sleeps; the client task is cancelled until it ends.

The SDK's own reconnect after a SYSTEM ``disconnect`` (immediate) is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import dingtalk_stream
import dingtalk_stream.card_replier
import dingtalk_stream.chatbot
import dingtalk_stream.stream
import dingtalk_stream.utils
from dingtalk_stream import AckMessage, CallbackHandler, ChatbotHandler, EventHandler, SystemHandler
from dingtalk_stream.frames import CallbackMessage, EventMessage, SystemMessage
from websockets.protocol import State

from bot.channels.dingtalk.inbound import Inbound
from bot.channels.dingtalk.parse import Malformed
from core.clock import Clock

log = logging.getLogger("actionflow.dingtalk.stream")
sdk_log = logging.getLogger("actionflow.dingtalk.sdk")


class _QuietWhileStopping(logging.Filter):
    """0.24.3 logs our own cancellation as ``[start] network exception`` at ERROR, every connection
    ticket at INFO (``endpoint is {…'ticket': …}``), and every ``ping`` health check the service sends
    as ``unknown message topic`` at WARNING (it answers them all the same); drop all three (we log
    connections ourselves, and a dead connection shows as a liveness timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.stopping = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(("endpoint is", "unknown message topic, topic=ping,")):
            return False
        return not (self.stopping and "network exception" in message)


_quiet = _QuietWhileStopping()
sdk_log.addFilter(_quiet)

STABLE_AFTER_S = 30.0
TICK_S = 0.05


def point_sdk_at(api_base: str) -> None:
    """The SDK reads ``DINGTALK_OPENAPI_ENDPOINT`` once at import and copies it into four modules;
    repoint them all (the open-connection URL is a class attribute built at import time)."""
    base = api_base.rstrip("/")
    dingtalk_stream.utils.DINGTALK_OPENAPI_ENDPOINT = base
    dingtalk_stream.stream.DINGTALK_OPENAPI_ENDPOINT = base
    dingtalk_stream.chatbot.DINGTALK_OPENAPI_ENDPOINT = base
    dingtalk_stream.card_replier.DINGTALK_OPENAPI_ENDPOINT = base
    dingtalk_stream.stream.DingTalkStreamClient.OPEN_CONNECTION_API = f"{base}/v1.0/gateway/connections/open"


class Liveness:
    """When the last frame arrived, by the bot's clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.last: datetime = clock.now()
        self.frames = 0

    def touch(self) -> None:
        self.last = self.clock.now()
        self.frames += 1

    def silent_for(self) -> timedelta:
        return self.clock.now() - self.last


# -- handlers (they must subclass the SDK's classes: the client calls pre_start() on them) -----------
class _System(SystemHandler):
    def __init__(self, liveness: Liveness) -> None:
        super().__init__()
        self.liveness = liveness

    async def raw_process(self, system_message: SystemMessage) -> AckMessage:
        self.liveness.touch()
        return await super().raw_process(system_message)


class _Watched(CallbackHandler):
    """A callback handler that counts every frame as a sign of life for the liveness check."""

    def __init__(self, inbound: Inbound, liveness: Liveness) -> None:
        super().__init__()
        self.inbound = inbound
        self.liveness = liveness

    async def raw_process(self, callback_message: CallbackMessage) -> AckMessage:
        self.liveness.touch()
        return await super().raw_process(callback_message)


class _Robot(_Watched, ChatbotHandler):
    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        message_id = callback.headers.message_id or ""
        try:
            await self.inbound.robot(callback.data, message_id)
        except Malformed as exc:
            log.warning("robot message %s skipped: %s", message_id, exc)
            return AckMessage.STATUS_OK, "skipped"
        except Exception:
            log.exception("robot message %s not claimed; not ACKed, DingTalk will resend it", message_id)
            raise
        return AckMessage.STATUS_OK, "OK"


class _Card(_Watched):
    async def process(self, callback: CallbackMessage) -> tuple[int, Any]:
        message_id = callback.headers.message_id or ""
        try:
            return AckMessage.STATUS_OK, await self.inbound.card(callback.data, message_id)
        except Malformed as exc:
            log.warning("card callback %s skipped: %s", message_id, exc)
            return AckMessage.STATUS_OK, {}
        except Exception:
            log.exception("card callback %s not claimed; not ACKed", message_id)
            raise


class _Events(EventHandler):
    def __init__(self, inbound: Inbound, liveness: Liveness) -> None:
        super().__init__()
        self.inbound = inbound
        self.liveness = liveness

    async def raw_process(self, event_message: EventMessage) -> AckMessage:
        self.liveness.touch()
        return await super().raw_process(event_message)

    async def process(self, event: EventMessage) -> tuple[int, str]:
        headers = event.headers
        try:
            await self.inbound.event(headers.event_type or "", event.data, headers.event_born_time)
        except Malformed as exc:
            log.warning("event %s (%s) skipped: %s", headers.event_id, headers.event_type, exc)
        except Exception:
            log.exception("event %s not claimed; not ACKed, DingTalk will resend it", headers.event_id)
            raise
        return AckMessage.STATUS_OK, "OK"


# -- the thread ------------------------------------------------------------------------------------
class StreamRunner:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        inbound: Inbound,
        clock: Clock,
        liveness_timeout_s: float,
        reconnect_min_s: float,
        reconnect_max_s: float,
    ) -> None:
        self.credential = dingtalk_stream.Credential(client_id, client_secret)
        self.inbound = inbound
        self.liveness = Liveness(clock)
        self.liveness_timeout = timedelta(seconds=liveness_timeout_s)
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.connections = 0  # websocket connections seen open
        self.restarts = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: dingtalk_stream.DingTalkStreamClient | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dingtalk-stream", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    async def stop(self, within: float = 15.0) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is None or stop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop.set)
        await asyncio.to_thread(thread.join, within)
        if thread.is_alive():
            log.error("the DingTalk stream thread did not stop within %.0f s", within)
        self._thread = None

    @property
    def connected(self) -> bool:
        ws = self._client.websocket if self._client is not None else None
        return ws is not None and ws.state is State.OPEN

    # -- on the SDK's loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except Exception:
            log.exception("the DingTalk stream thread failed")
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()

    def _client_for_this_loop(self) -> dingtalk_stream.DingTalkStreamClient:
        client = dingtalk_stream.DingTalkStreamClient(self.credential, logger=sdk_log)
        client.system_handler = _System(self.liveness)
        robot, card = _Robot(self.inbound, self.liveness), _Card(self.inbound, self.liveness)
        client.register_callback_handler(dingtalk_stream.ChatbotMessage.TOPIC, robot)
        client.register_callback_handler(CallbackHandler.TOPIC_CARD_CALLBACK, card)
        client.register_all_event_handler(_Events(self.inbound, self.liveness))
        return client

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._client = self._client_for_this_loop()
        self._task = asyncio.create_task(self._client.start(), name="dingtalk-sdk")
        self._ready.set()
        backoff = self.reconnect_min_s
        down_since: float | None = None
        up_since: float | None = None
        current: int | None = None
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), TICK_S)
            if self._stop.is_set():
                break
            now = time.monotonic()
            ws = self._client.websocket
            if ws is not None and ws.state is State.OPEN:
                down_since = None
                if id(ws) != current:
                    current, up_since = id(ws), now
                    self.connections += 1
                    self.liveness.touch()
                    log.info("DingTalk stream connected", extra={"connection": self.connections})
                if up_since is not None and now - up_since > STABLE_AFTER_S:
                    backoff = self.reconnect_min_s
                if self.liveness.silent_for() > self.liveness_timeout:
                    log.warning(
                        "no frame from DingTalk for %s; recreating the connection", self.liveness.silent_for()
                    )
                    await self._restart()
                continue
            if down_since is None:
                down_since = now
            elif now - down_since >= backoff:
                log.warning("DingTalk stream down for %.1f s; reconnecting", now - down_since)
                await self._restart()
                down_since = time.monotonic()
                backoff = min(backoff * 2, self.reconnect_max_s)
        await self._kill()

    async def _restart(self) -> None:
        await self._kill()
        assert self._client is not None
        self._client.websocket = None
        self.liveness.touch()
        self.restarts += 1
        self._task = asyncio.create_task(self._client.start(), name="dingtalk-sdk")

    async def _kill(self) -> None:
        """Cancel the SDK's ``start()`` until it really ends (0.24.3 swallows a cancel and sleeps)."""
        task = self._task
        if task is None:
            return
        _quiet.stopping += 1
        try:
            for _ in range(400):
                if task.done():
                    break
                task.cancel()
                await asyncio.wait({task}, timeout=TICK_S)
        finally:
            _quiet.stopping -= 1
        if not task.done():
            log.error("the DingTalk SDK task does not stop")
        elif not task.cancelled() and task.exception() is not None:
            log.error("the DingTalk SDK task failed: %s", task.exception())
