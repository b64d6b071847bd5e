"""The Stream gateway: ``POST /v1.0/gateway/connections/open`` hands out one-use tickets, ``GET /connect``
is the websocket. Frames go to a subscribed connection; ACKs are matched by ``messageId``; unACKed EVENT
and CALLBACK frames are delivered again (after ``redeliver_after_s``, and on the next connection when
theirs went away)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import WSMsgType, web

from emulators.dingtalk.frames import frame, new_message_id
from emulators.dingtalk.state import EmulatorState, Frame

log = logging.getLogger("emulators.dingtalk.gateway")

TICKET_TTL = timedelta(seconds=90)


@dataclass
class Connection:
    id: str
    ws: web.WebSocketResponse
    request: web.Request
    subscriptions: list[dict[str, str]]
    acks: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, kind: str, topic: str) -> bool:
        if kind == "SYSTEM":
            return True
        for sub in self.subscriptions:
            if sub.get("type") == kind and (sub.get("topic") == topic or sub.get("topic") == "*"):
                return True
        return False


class Gateway:
    def __init__(
        self,
        state: EmulatorState,
        *,
        redeliver_after_s: float | None,
        max_deliveries: int,
        ping_interval_s: float | None,
        disconnect_grace_s: float,
    ) -> None:
        self.state = state
        self.redeliver_after_s = redeliver_after_s
        self.max_deliveries = max_deliveries
        self.ping_interval_s = ping_interval_s
        self.disconnect_grace_s = disconnect_grace_s
        self.base_ws = ""
        self.tickets: dict[str, tuple[Any, list[dict[str, str]]]] = {}
        self.connections: dict[str, Connection] = {}
        self.opened = 0  # websocket connections accepted, ever
        self.open_latency_s = 0.0
        self.stall_acks = False
        self.silent = False
        self.dropped_acks: list[str] = []
        self.changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- HTTP ---------------------------------------------------------------------
    async def open_connection(self, request: web.Request) -> web.Response:
        st = self.state
        st.count("open")
        if self.open_latency_s:
            await asyncio.sleep(self.open_latency_s)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"code": "invalidParameter", "message": "body is not JSON"}, status=400)
        if st.take_fault("open") is not None:
            return web.json_response({"code": "ServiceUnavailable", "message": "injected"}, status=503)
        if body.get("clientId") != st.client_id or body.get("clientSecret") != st.client_secret:
            st.reject("open", "bad credentials")
            return web.json_response(
                {"code": "Forbidden.AccessDenied.AccessTokenPermissionDenied", "message": "bad credentials"},
                status=401,
            )
        subs = body.get("subscriptions")
        if not isinstance(subs, list) or not subs:
            return web.json_response({"code": "invalidParameter", "message": "no subscriptions"}, status=400)
        ticket = str(uuid.uuid4())
        self.tickets[ticket] = (st.clock.now() + TICKET_TTL, subs)
        return web.json_response({"endpoint": f"{self.base_ws}/connect", "ticket": ticket})

    async def connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        entry = self.tickets.pop(ticket, None)  # one connection per ticket
        if entry is None or entry[0] < self.state.clock.now():
            self.state.reject("connect", "unknown or expired ticket")
            return web.Response(status=401, text="invalid ticket")
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = Connection(uuid.uuid4().hex[:12], ws, request, entry[1])
        self.connections[conn.id] = conn
        self.opened += 1
        await self._notify()
        self._spawn(self._send_pending(conn))
        if self.ping_interval_s:
            self._spawn(self._pinger(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_ack(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.connections.pop(conn.id, None)
            conn.closed.set()
            await self._notify()
        return ws

    # -- ACKs ---------------------------------------------------------------------
    async def _on_ack(self, conn: Connection, text: str) -> None:
        try:
            ack = json.loads(text)
            message_id = ack["headers"]["messageId"]
        except (json.JSONDecodeError, KeyError, TypeError):
            log.warning("unreadable ACK: %.200s", text)
            return
        if self.stall_acks:
            self.dropped_acks.append(message_id)
            return
        conn.acks += 1
        with self.state.lock:
            fr = self.state.frames.get(message_id)
            if fr is not None:
                fr.acks_received += 1
            if fr is None or fr.acked:
                await self._notify()
                return
            if not _successful(fr, ack):
                log.info("negative ACK for %s: %s", message_id, ack.get("code"))
                return
            fr.ack = ack
            fr.acked_mono = time.monotonic()
            callback = fr.on_ack
        if callback is not None:
            try:
                callback(ack)
            except Exception:
                log.exception("applying the ACK of %s failed", message_id)
        await self._notify()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    # -- sending ------------------------------------------------------------------
    def make(self, kind: str, topic: str, data: dict[str, Any] | str, **kw: Any) -> Frame:
        message_id = kw.pop("message_id", None) or new_message_id()
        body = frame(
            kind,
            topic,
            data,
            message_id=message_id,
            when=self.state.clock.now(),
            app_id=self.state.client_id,
            extra_headers=kw.pop("extra_headers", None),
        )
        return Frame(message_id, json.dumps(body, ensure_ascii=False), kind, topic, kind != "SYSTEM", **kw)

    async def push(self, fr: Frame) -> None:
        with self.state.lock:
            self.state.frames.setdefault(fr.message_id, fr)
        await self._deliver(fr)

    async def push_raw(self, text: str) -> None:
        for conn in list(self.connections.values()):
            await conn.ws.send_str(text)
            return

    async def _deliver(self, fr: Frame) -> bool:
        if self.silent:
            return False
        targets = [c for c in self.connections.values() if c.wants(fr.type, fr.topic) and not c.ws.closed]
        if not targets:
            return False
        conn = random.choice(targets)
        fr.deliveries += 1
        fr.connection = conn.id
        fr.sent_mono = time.monotonic()
        fr.first_sent_mono = fr.first_sent_mono or fr.sent_mono
        try:
            await conn.ws.send_str(fr.raw)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def _send_pending(self, conn: Connection) -> None:
        """On a new connection: frames never delivered, or delivered on a connection that went away."""
        with self.state.lock:
            waiting = [
                f
                for f in self.state.frames.values()
                if not f.acked
                and f.redeliver
                and f.deliveries < self.max_deliveries
                and (f.connection is None or f.connection not in self.connections)
            ]
        for fr in waiting:
            await self._deliver(fr)

    async def redeliver_loop(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            if self.redeliver_after_s is None:
                continue
            now = time.monotonic()
            with self.state.lock:
                due = [
                    f
                    for f in self.state.frames.values()
                    if f.redeliver
                    and not f.acked
                    and 0 < f.deliveries < self.max_deliveries
                    and now - f.sent_mono >= self.redeliver_after_s
                ]
            for fr in due:
                await self._deliver(fr)

    async def _pinger(self, conn: Connection) -> None:
        assert self.ping_interval_s
        while not conn.ws.closed:
            if not self.silent:
                fr = self.make("SYSTEM", "ping", {"opaque": str(uuid.uuid4())})
                await self.push(fr)
            await asyncio.sleep(self.ping_interval_s)

    # -- connection faults --------------------------------------------------------
    async def disconnect(self, reason: str = "connection is expired") -> int:
        """The scheduled disconnect: a SYSTEM ``disconnect`` frame, then the TCP cut after the grace."""
        conns = list(self.connections.values())
        for conn in conns:
            fr = self.make("SYSTEM", "disconnect", {"reason": reason})
            with self.state.lock:
                self.state.frames[fr.message_id] = fr
            fr.deliveries += 1
            fr.connection = conn.id
            await conn.ws.send_str(fr.raw)
            self._spawn(self._cut_later(conn))
        return len(conns)

    async def _cut_later(self, conn: Connection) -> None:
        try:
            await asyncio.wait_for(conn.closed.wait(), self.disconnect_grace_s)
        except TimeoutError:
            await conn.ws.close()

    async def drop(self) -> int:
        """Abrupt close: the TCP connection goes away without a close frame."""
        conns = list(self.connections.values())
        for conn in conns:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
        return len(conns)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close_all(self) -> None:
        for conn in list(self.connections.values()):
            await conn.ws.close()
        for task in list(self._tasks):
            task.cancel()


def _successful(fr: Frame, ack: dict[str, Any]) -> bool:
    """200 counts as success; an EVENT whose ACK data says LATER asks for redelivery. (The Python SDK
    echoes the event data instead of ``{"status": "SUCCESS"}``, so 200 alone must be enough.)"""
    if ack.get("code") != 200:
        return False
    if fr.type == "EVENT":
        try:
            data = json.loads(ack.get("data") or "{}")
        except (TypeError, json.JSONDecodeError):
            return True
        return not (isinstance(data, dict) and data.get("status") == "LATER")
    return True
