"""``/_emulator/*``: drive the emulator over HTTP (the demo, curl, another process). Not DingTalk's API.

==========================  ===================================================================
POST /_emulator/text        ``{"staff_id", "text", "group"?, "conversation_id"?, "nick"?}``
POST /_emulator/approval    ``{"instance_id", "process_code", "change", "staff_id", "result"?, "form"?}``
POST /_emulator/click       ``{"user_id", "params", "out_track_id"?}``
POST /_emulator/webhook     ``{"token", "secret"}``: register a custom robot webhook
POST /_emulator/org         ``{"departments": [...], "people": [...]}`` (fields of Department/Person)
POST /_emulator/disconnect  the scheduled SYSTEM disconnect; ``/_emulator/drop``: an abrupt close
GET  /_emulator/sent        ``?to=`` what the robot sent (api, to, msg_key, text, at)
GET  /_emulator/status      connections open now and opened so far
POST /_emulator/load        ``{"count", "rate"?, "users", "tag", "text"?}``: push ``count`` texts from
                            staff ``s0…s<users-1>`` with msgIds ``<tag><n>``; answers when all are out
GET  /_emulator/frames      ``?prefix=`` msgId → [first sent, ACKed] (``time.monotonic()``, 0 = never)
POST /_emulator/open_latency ``{"seconds"}``: slow down ``connections/open`` (the SDK blocks on it)
==========================  ===================================================================
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from emulators.dingtalk.contacts import Department, Person
from emulators.dingtalk.emulator import DingTalkEmulator


def _readable(value: Any) -> str:
    if isinstance(value, list):
        return "[\n" + ",\n".join(json.dumps(v, ensure_ascii=False) for v in value) + "\n]\n"
    return json.dumps(value, ensure_ascii=False)


class ControlledEmulator(DingTalkEmulator):
    def add_extra_routes(self, app: web.Application) -> None:
        app.router.add_post("/_emulator/text", self._text)
        app.router.add_post("/_emulator/approval", self._approval)
        app.router.add_post("/_emulator/click", self._click)
        app.router.add_post("/_emulator/webhook", self._webhook)
        app.router.add_post("/_emulator/org", self._org)
        app.router.add_post("/_emulator/disconnect", self._disconnect)
        app.router.add_post("/_emulator/drop", self._drop)
        app.router.add_get("/_emulator/sent", self._sent)
        app.router.add_get("/_emulator/status", self._status)
        app.router.add_post("/_emulator/load", self._load)
        app.router.add_get("/_emulator/frames", self._frames)
        app.router.add_post("/_emulator/open_latency", self._open_latency)
        app.router.add_post("/_emulator/authcode", self._authcode)

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text="body must be JSON") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return body

    async def _text(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        mid = self.push_text(
            str(b["staff_id"]),
            str(b["text"]),
            nick=str(b.get("nick", "")),
            group=bool(b.get("group")),
            conversation_id=b.get("conversation_id"),
        )
        return web.json_response({"messageId": mid})

    async def _approval(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        mid = self.push_approval(
            str(b["instance_id"]),
            process_code=str(b["process_code"]),
            change=str(b["change"]),
            staff_id=str(b["staff_id"]),
            result=b.get("result"),
            form=b.get("form"),
        )
        return web.json_response({"messageId": mid})

    async def _click(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        try:
            mid = self.click_card(str(b["user_id"]), dict(b["params"]), out_track_id=b.get("out_track_id"))
        except (LookupError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        return web.json_response({"messageId": mid})

    async def _webhook(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.add_webhook(str(b["token"]), str(b["secret"]))
        return web.json_response({"ok": True})

    async def _org(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        self.set_org(
            [Department(**d) for d in b.get("departments", [])], [Person(**p) for p in b.get("people", [])]
        )
        return web.json_response({"ok": True})

    async def _disconnect(self, request: web.Request) -> web.Response:
        return web.json_response({"connections": await self.gateway.disconnect()})

    async def _drop(self, request: web.Request) -> web.Response:
        return web.json_response({"connections": await self.gateway.drop()})

    async def _sent(self, request: web.Request) -> web.Response:
        to = request.query.get("to")
        return web.json_response(
            [
                {"api": s.api, "to": s.to, "msg_key": s.msg_key, "text": s.text, "at": s.at.isoformat()}
                for s in self.messages_to(to)
            ],
            dumps=_readable,  # people read this with curl: Chinese as Chinese, one message per line
        )

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"opened": self.opened, "connections": self.connections})

    async def _load(self, request: web.Request) -> web.Response:
        b = await self._body(request)
        count, users, tag = int(b["count"]), int(b["users"]), str(b["tag"])
        rate = float(b.get("rate") or 0)
        text = str(b.get("text", "帮助"))
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(count):
            if rate:
                delay = start + n / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            fr = self._message_frame(f"s{n % users}", "text", {"text": {"content": text}}, msg_id=f"{tag}{n}")
            await self.gateway.push(fr)
        return web.json_response({"pushed": count})

    async def _frames(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        out: dict[str, list[float]] = {}
        with self.state.lock:
            for fr in self.state.frames.values():
                if fr.type != "CALLBACK" or fr.msg_id is None or not fr.msg_id.startswith(prefix):
                    continue
                out[fr.msg_id] = [fr.first_sent_mono, fr.acked_mono]
        return web.json_response(out)

    async def _open_latency(self, request: web.Request) -> web.Response:
        self.set_open_latency(float((await self._body(request))["seconds"]))
        return web.json_response({"ok": True})

    async def _authcode(self, request: web.Request) -> web.Response:
        """The DingTalk client's side of ``requestAuthCode`` for a signed-in ``staff_id``."""
        b = await self._body(request)
        return web.json_response({"code": self.state.issue_auth_code(str(b["staff_id"]))})
