"""``/_emulator/*``: drive the emulator over HTTP (the demo, curl, another process). Not DingTalk's API.

==========================  ===================================================================
POST /_emulator/text        ``{"staff_id", "text", "group"?, "conversation_id"?, "nick"?}``
POST /_emulator/approval    ``{"instance_id", "process_code", "change", "staff_id", "result"?, "form"?}``
POST /_emulator/click       ``{"user_id", "params", "out_track_id"?}``
POST /_emulator/webhook     ``{"token", "secret"}``: register a custom robot webhook
POST /_emulator/org         ``{"departments": [...], "people": [...]}`` (fields of Department/Person)
POST /_emulator/disconnect  the scheduled SYSTEM disconnect; ``/_emulator/drop``: an abrupt close
GET  /_emulator/sent        ``?to=`` what the robot sent (api, to, msg_key, text, at)
==========================  ===================================================================
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from emulators.dingtalk.contacts import Department, Person
from emulators.dingtalk.emulator import DingTalkEmulator


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
            ]
        )
