"""A local DingTalk Open Platform for tests, the demo and benchmarks.

    with DingTalkEmulator() as dt:                # its own thread and loop, on 127.0.0.1:<free port>
        settings = {"api_base": dt.base_url, "oapi_base": dt.base_url, **dt.credentials}
        mid = dt.push_text("staff-1", "帮助")       # a robot message frame, through the websocket
        await dt.wait_acked(mid)                  # the bot claimed it and ACKed
        dt.texts_to("staff-1")                    # what the robot sent that person

Faults: :meth:`inject` (QPS 403, flow control, invalid users…), :meth:`drop` (abrupt close),
:meth:`disconnect` (the scheduled SYSTEM disconnect), ``stall_acks`` (ACKs lost on the way),
``silent`` (a connection that stays open but carries nothing), webhook throttling.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from emulators.dingtalk.contacts import ContactFault, Department, Person
from emulators.dingtalk.frames import (
    CARD_TOPIC,
    ROBOT_TOPIC,
    approval_event,
    card_callback,
    new_message_id,
    robot_message,
)
from emulators.dingtalk.oapi import sign
from emulators.dingtalk.openapi import apply_card_update
from emulators.dingtalk.server import EmulatorServer
from emulators.dingtalk.state import Card, Clock, Frame, Sent, StoredFile, Webhook

INSTANCE_STATUS = {"start": "RUNNING", "finish": "COMPLETED", "terminate": "TERMINATED"}


def utc_text(when: datetime) -> str:
    """Process-instance times look like ``2022-08-31T11:52Z`` (UTC, minutes)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


class DingTalkEmulator(EmulatorServer):
    def __init__(
        self,
        *,
        client_id: str = "dingemuappkey",
        client_secret: str = "emu-app-secret",
        robot_code: str | None = None,
        corp_id: str = "dingcorpemu",
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token_ttl_s: int = 7200,
        redeliver_after_s: float | None = None,
        max_deliveries: int = 5,
        ping_interval_s: float | None = None,
        disconnect_grace_s: float = 10.0,
        webhook_limit_per_min: int = 20,
        webhook_block_s: int = 600,
    ) -> None:
        super().__init__(
            client_id=client_id,
            client_secret=client_secret,
            robot_code=robot_code or client_id,
            corp_id=corp_id,
            clock=clock,
            host=host,
            port=port,
            token_ttl_s=token_ttl_s,
            redeliver_after_s=redeliver_after_s,
            max_deliveries=max_deliveries,
            ping_interval_s=ping_interval_s,
            disconnect_grace_s=disconnect_grace_s,
            webhook_limit_per_min=webhook_limit_per_min,
            webhook_block_s=webhook_block_s,
        )

    def __enter__(self) -> DingTalkEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def credentials(self) -> dict[str, str]:
        """The ``dingtalk`` settings that point the bot here."""
        st = self.state
        return {
            "client_id": st.client_id,
            "client_secret": st.client_secret,
            "robot_code": st.robot_code,
            "api_base": self.base_url,
            "oapi_base": self.base_url,
        }

    # -- fixtures ---------------------------------------------------------------------
    def add_file(self, data: bytes, content_type: str = "application/octet-stream", name: str = "") -> str:
        code = "dl" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        with self.state.lock:
            self.state.files[code] = StoredFile(data, content_type, name)
        return code

    def add_webhook(self, token: str, secret: str) -> None:
        with self.state.lock:
            self.state.webhooks[token] = Webhook(token, secret)

    def exhaust_webhook(self, token: str) -> None:
        """Use up this minute's quota, as if another sender had posted 20 messages just now."""
        with self.state.lock:
            hook = self.state.webhooks[token]
            now = self.state.clock.now()
            hook.sends.extend([now] * (self.state.webhook_limit_per_min - len(hook.sends)))

    def webhook_blocked_until(self, token: str) -> datetime | None:
        with self.state.lock:
            return self.state.webhooks[token].blocked_until

    @staticmethod
    def webhook_sign(secret: str, timestamp_ms: int) -> str:
        return sign(secret, timestamp_ms)

    def revoke_tokens(self) -> None:
        """Every access token issued so far stops working (as after a secret reset)."""
        with self.state.lock:
            self.state.tokens.clear()

    def inject(self, api: str, fault: str, times: int = 1) -> None:
        """Make the next ``times`` calls of ``api`` fail. ``api``: oto, group, card, download, instance,
        upload, open. ``fault``: qps (HTTP 403), quota (403 monthly quota), server_error (500),
        flow_control / invalid_user / filtered (oto: inside a 200), deliver_failed (card),
        unknown_group (group)."""
        with self.state.lock:
            self.state.faults.setdefault(api, deque()).extend([fault] * times)

    def set_org(self, departments: list[Department], people: list[Person]) -> None:
        with self.state.lock:
            self.directory.set(departments, people)

    def fail_contacts(
        self,
        path: str,
        *,
        dept_id: int | None = None,
        cursor: int | None = None,
        errcode: int = -1,
        errmsg: str = "系统繁忙",
        times: int = 1,
    ) -> None:
        """Fail ``path`` (``user/list``, ``department/listsub``…) for that department / page."""
        with self.state.lock:
            self.directory.faults.append(ContactFault(path, dept_id, cursor, errcode, errmsg, times))

    def set_instance(
        self,
        instance_id: str,
        *,
        staff_id: str,
        form: dict[str, str],
        status: str = "RUNNING",
        result: str = "",
        title: str = "客户拜访申请",
        process_code: str = "",
    ) -> None:
        now = self.state.clock.now()
        with self.state.lock:
            self.state.instances[instance_id] = {
                "title": title,
                "status": status,
                "result": result,
                "businessId": instance_id[-8:],
                "processCode": process_code,
                "originatorUserId": staff_id,
                "originatorDeptId": "1",
                "originatorDeptName": "销售部",
                "createTime": utc_text(now),
                "finishTime": utc_text(now) if status != "RUNNING" else "",
                "approverUserIds": [],
                "ccUserIds": [],
                "bizAction": "NONE",
                "attachedProcessInstanceIds": [],
                "formComponentValues": [
                    {
                        "id": f"TextField-{i}",
                        "name": name,
                        "value": value,
                        "componentType": "TextField",
                        "bizAlias": "",
                    }
                    for i, (name, value) in enumerate(form.items())
                ],
                "operationRecords": [],
                "tasks": [],
            }

    # -- pushing frames -------------------------------------------------------------------
    def _push(self, fr: Frame) -> str:
        if self.on_own_thread():  # from a control endpoint: already on the emulator's loop
            asyncio.get_running_loop().create_task(self.gateway.push(fr))
        else:
            self.call(self.gateway.push(fr))
        return fr.message_id

    def push_message(
        self,
        staff_id: str,
        msgtype: str,
        body: dict[str, Any],
        *,
        nick: str = "",
        group: bool = False,
        conversation_id: str | None = None,
        msg_id: str | None = None,
    ) -> str:
        """A robot message from ``staff_id``; returns the frame's ``messageId``."""
        fr = self._message_frame(
            staff_id, msgtype, body, nick=nick, group=group, conversation_id=conversation_id, msg_id=msg_id
        )
        return self._push(fr)

    def _message_frame(
        self,
        staff_id: str,
        msgtype: str,
        body: dict[str, Any],
        *,
        nick: str = "",
        group: bool = False,
        conversation_id: str | None = None,
        msg_id: str | None = None,
    ) -> Frame:
        session = uuid.uuid4().hex
        cid = conversation_id or ("cidgrp" if group else "cid" + staff_id)
        with self.state.lock:
            self.state.sessions[session] = cid if group else staff_id
        data = robot_message(
            msg_id=msg_id or "msg" + uuid.uuid4().hex[:20],
            msgtype=msgtype,
            staff_id=staff_id,
            nick=nick or staff_id,
            conversation_id=cid,
            group=group,
            robot_code=self.state.robot_code,
            corp_id=self.state.corp_id,
            when=self.state.clock.now(),
            session_webhook=f"{self.base_url}/robot/sendBySession?session={session}",
            body=body,
        )
        fr = self.gateway.make("CALLBACK", ROBOT_TOPIC, data)
        fr.msg_id = data["msgId"]
        return fr

    def push_text(self, staff_id: str, text: str, **kw: Any) -> str:
        if kw.get("group"):
            text = " " + text  # the @-mention is stripped, leaving a leading space
        return self.push_message(staff_id, "text", {"text": {"content": text}}, **kw)

    def push_audio(
        self,
        staff_id: str,
        audio: bytes,
        *,
        recognition: str | None = "",
        duration_ms: int | None = 4000,
        content_type: str = "audio/amr",
        **kw: Any,
    ) -> str:
        content: dict[str, Any] = {"downloadCode": self.add_file(audio, content_type)}
        if recognition is not None:
            content["recognition"] = recognition
        if duration_ms is not None:
            content["duration"] = duration_ms
        return self.push_message(staff_id, "audio", {"content": content}, **kw)

    def push_picture(self, staff_id: str, image: bytes, content_type: str = "image/jpeg", **kw: Any) -> str:
        code = self.add_file(image, content_type)
        content = {"pictureDownloadCode": "p" + code, "downloadCode": code}
        return self.push_message(staff_id, "picture", {"content": content}, **kw)

    def push_file(self, staff_id: str, data: bytes, file_name: str, **kw: Any) -> str:
        code = self.add_file(data, "application/octet-stream", file_name)
        content = {"spaceId": "2233", "fileName": file_name, "downloadCode": code, "fileId": "1177"}
        return self.push_message(staff_id, "file", {"content": content}, **kw)

    def push_rich_text(self, staff_id: str, parts: list[str | bytes], **kw: Any) -> str:
        items: list[dict[str, str]] = []
        for part in parts:
            if isinstance(part, bytes):
                code = self.add_file(part, "image/jpeg")
                items.append({"pictureDownloadCode": "p" + code, "downloadCode": code, "type": "picture"})
            else:
                items.append({"text": part})
        return self.push_message(staff_id, "richText", {"content": {"richText": items}}, **kw)

    def push_event(self, event_type: str, data: dict[str, Any] | str, *, event_id: str | None = None) -> str:
        now = self.state.clock.now()
        headers = {
            "eventType": event_type,
            "eventId": event_id or uuid.uuid4().hex,
            "eventBornTime": str(int(now.timestamp() * 1000)),
            "eventCorpId": self.state.corp_id,
            "eventUnifiedAppId": self.state.client_id,
        }
        return self._push(self.gateway.make("EVENT", "*", data, extra_headers=headers))

    def push_approval(
        self,
        instance_id: str,
        *,
        process_code: str,
        change: str,
        staff_id: str,
        result: str | None = None,
        form: dict[str, str] | None = None,
        title: str = "客户拜访申请",
        event_id: str | None = None,
    ) -> str:
        """A ``bpms_instance_change`` event; with ``form`` the instance behind it is stored first."""
        if form is not None:
            status = INSTANCE_STATUS.get(change, "RUNNING")
            self.set_instance(
                instance_id,
                staff_id=staff_id,
                form=form,
                status=status,
                result=result or "",
                title=title,
                process_code=process_code,
            )
        data = approval_event(
            instance_id=instance_id,
            process_code=process_code,
            change=change,
            result=result,
            staff_id=staff_id,
            title=title,
            when=self.state.clock.now(),
            corp_id=self.state.corp_id,
        )
        return self.push_event("bpms_instance_change", data, event_id=event_id)

    def push_frame(
        self, kind: str, topic: str, data: dict[str, Any] | str, *, headers: dict[str, str] | None = None
    ) -> str:
        """Any frame (malformed ones too: ``data`` given as a dict is sent as an object, not a string)."""
        fr = self.gateway.make(kind, topic, "", extra_headers=headers)
        body = json.loads(fr.raw)
        body["data"] = data
        fr.raw = json.dumps(body, ensure_ascii=False)
        return self._push(fr)

    def push_raw(self, text: str) -> None:
        """Text that is not a frame at all."""
        self.call(self.gateway.push_raw(text))

    def redeliver(self, message_id: str) -> None:
        """Send the same frame again (same ``messageId`` and ``msgId``), as DingTalk does after a slow ACK."""
        with self.state.lock:
            fr = self.state.frames[message_id]
        self.call(self.gateway._deliver(fr))

    def push_ping(self) -> str:
        return self._push(self.gateway.make("SYSTEM", "ping", {"opaque": str(uuid.uuid4())}))

    # -- cards ------------------------------------------------------------------------
    def latest_card(self, user_id: str) -> Card | None:
        with self.state.lock:
            cards = [c for c in self.state.cards.values() if user_id in c.recipients]
        return cards[-1] if cards else None

    def click_card(
        self,
        user_id: str,
        params: dict[str, Any],
        *,
        out_track_id: str | None = None,
        action_id: str = "choose",
    ) -> str:
        """``user_id`` clicks a card (default: the latest one they got). The callback frame goes out; its
        ACK's ``response`` is applied to the stored card. Returns the frame's ``messageId``."""
        card = self.state.cards.get(out_track_id) if out_track_id else self.latest_card(user_id)
        if card is None:
            raise LookupError(f"no card for {user_id}")
        if card.callback_type != "STREAM":
            raise ValueError("the card was not created with callbackType STREAM: no Stream callback")
        space = card.recipients[card.recipients.index(user_id)] if user_id in card.recipients else ""
        data = card_callback(
            out_track_id=card.out_track_id,
            user_id=user_id,
            corp_id=self.state.corp_id,
            space_id=space,
            action_id=action_id,
            params=params,
        )

        def apply(ack: dict[str, Any]) -> None:
            response = (json.loads(ack.get("data") or "{}") or {}).get("response") or {}
            if not isinstance(response, dict):
                return
            with self.state.lock:
                apply_card_update(card, response)
                mine = (response.get("userPrivateData") or {}).get("cardParamMap")
                if isinstance(mine, dict):
                    card.private.setdefault(user_id, {}).update({k: str(v) for k, v in mine.items()})

        fr = self.gateway.make("CALLBACK", CARD_TOPIC, data, on_ack=apply)
        return self._push(fr)

    # -- connection faults ----------------------------------------------------------------
    def disconnect(self, reason: str = "connection is expired") -> int:
        return self.call(self.gateway.disconnect(reason))

    def drop(self) -> int:
        return self.call(self.gateway.drop())

    @property
    def stall_acks(self) -> bool:
        return self.gateway.stall_acks

    @stall_acks.setter
    def stall_acks(self, value: bool) -> None:
        self.gateway.stall_acks = value

    @property
    def silent(self) -> bool:
        return self.gateway.silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self.gateway.silent = value

    def set_open_latency(self, seconds: float) -> None:
        self.gateway.open_latency_s = seconds

    @property
    def connections(self) -> int:
        return len(self.gateway.connections)

    @property
    def opened(self) -> int:
        return self.gateway.opened

    # -- waiting (from the caller's event loop, without blocking it) -----------------------
    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"emulator: timed out waiting for {what or predicate}")
            await asyncio.sleep(0.005)

    async def wait_acked(self, message_id: str, within: float = 10.0) -> dict[str, Any]:
        await self.wait_for(lambda: self.acked(message_id), within, f"the ACK of {message_id}")
        ack = self.ack_of(message_id)
        assert ack is not None
        return ack

    async def wait_connected(self, opened: int = 1, within: float = 10.0) -> None:
        """Until at least ``opened`` websocket connections were accepted and one is open now."""
        await self.wait_for(
            lambda: self.gateway.opened >= opened and bool(self.gateway.connections),
            within,
            f"connection #{opened}",
        )

    async def wait_sent(self, count: int, *, to: str | None = None, within: float = 10.0) -> list[Sent]:
        await self.wait_for(lambda: len(self.messages_to(to)) >= count, within, f"{count} messages to {to}")
        return self.messages_to(to)

    # -- inspection -----------------------------------------------------------------------
    def acked(self, message_id: str) -> bool:
        with self.state.lock:
            fr = self.state.frames.get(message_id)
            return fr is not None and fr.acked

    def ack_of(self, message_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            fr = self.state.frames.get(message_id)
            return None if fr is None else fr.ack

    def acks_received(self, message_id: str) -> int:
        """ACKs that arrived for that frame, the first and any after redeliveries."""
        with self.state.lock:
            fr = self.state.frames.get(message_id)
            return 0 if fr is None else fr.acks_received

    async def wait_acks(self, message_id: str, count: int, within: float = 10.0) -> None:
        await self.wait_for(
            lambda: self.acks_received(message_id) >= count, within, f"{count} ACKs of {message_id}"
        )

    def deliveries(self, message_id: str) -> int:
        with self.state.lock:
            fr = self.state.frames.get(message_id)
            return 0 if fr is None else fr.deliveries

    @property
    def sent(self) -> list[Sent]:
        with self.state.lock:
            return list(self.state.sent)

    def messages_to(self, address: str | None = None) -> list[Sent]:
        with self.state.lock:
            return [s for s in self.state.sent if address is None or s.to == address]

    def texts_to(self, address: str) -> list[str]:
        return [s.text for s in self.messages_to(address)]

    def calls(self, api: str) -> int:
        with self.state.lock:
            return self.state.calls.get(api, 0)

    @property
    def tokens_issued(self) -> int:
        return self.state.tokens_issued

    @property
    def rejected(self) -> list[tuple[str, str]]:
        with self.state.lock:
            return list(self.state.rejected)

    @property
    def invalid_staff_ids(self) -> set[str]:
        return self.state.invalid_staff_ids

    def new_message_id(self) -> str:
        return new_message_id()
