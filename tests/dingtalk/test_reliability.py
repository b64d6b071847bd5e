"""Redeliveries, dropped sockets, the scheduled disconnect, malformed frames, a silent connection."""

from __future__ import annotations

import json
import logging
import threading
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.testing import make_settings
from emulators.dingtalk.frames import ROBOT_TOPIC
from emulators.dingtalk.rig import DingTalkRig, dingtalk_bot
from tests.core.formkit import FORMKIT_MODULES
from tests.dingtalk.helpers import STAFF, add_rep

FORMS = Path(__file__).resolve().parents[1] / "core" / "forms_alltypes.toml"


def _form_bot(
    tmp_path: Path, *, dingtalk: dict[str, Any] | None = None
) -> AbstractAsyncContextManager[DingTalkRig]:
    settings = make_settings(tmp_path, forms={"path": str(FORMS)})
    return dingtalk_bot(tmp_path, settings=settings, modules=FORMKIT_MODULES, dingtalk=dingtalk)


async def test_a_redelivered_frame_is_handled_once(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        mid = rig.emu.push_text(STAFF, "帮助")
        await rig.deliver(mid)
        rig.emu.redeliver(mid)  # same messageId and msgId, as after a slow ACK
        await rig.emu.wait_acks(mid, 2)  # the duplicate is ACKed too, or DingTalk keeps sending it
        await rig.bot.settle()
        assert rig.emu.deliveries(mid) == 2
        assert len(rig.texts(STAFF)) == 1


async def test_a_slow_ack_redelivery_by_the_gateway_is_handled_once(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, emulator={"redeliver_after_s": 0.05}) as rig:
        await add_rep(rig)
        rig.emu.stall_acks = True  # the ACKs get lost: the gateway resends after 50 ms, again and again
        mid = rig.emu.push_text(STAFF, "帮助")
        await rig.emu.wait_for(lambda: rig.emu.deliveries(mid) >= 3, what="redeliveries")
        rig.emu.stall_acks = False
        await rig.deliver(mid)
        assert len(rig.texts(STAFF)) == 1


async def _continues_after(rig: DingTalkRig, fault: str) -> None:
    await add_rep(rig)
    [_, question] = await rig.say(STAFF, "测试表单")
    assert "类型？" in question
    rig.emu.stall_acks = True  # the answer is handled, but its ACK never reaches the gateway
    pending = rig.emu.push_text(STAFF, "2")
    await rig.emu.wait_sent(3, to=STAFF)
    await rig.bot.settle()
    getattr(rig.emu, fault)()
    rig.emu.stall_acks = False
    await rig.emu.wait_connected(opened=2)
    await rig.emu.wait_acked(pending)  # redelivered on the new connection, recognised as a duplicate
    await rig.bot.settle()
    assert rig.emu.deliveries(pending) >= 2  # the first, lost ACK; then again after the reconnect
    texts = rig.texts(STAFF)
    assert sum("标签？" in t for t in texts) == 1  # handled exactly once
    assert any("编号？" in t for t in await rig.say(STAFF, "1"))  # the conversation continues


async def test_after_an_abrupt_close_the_bot_reconnects_and_the_conversation_continues(
    tmp_path: Path,
) -> None:
    async with _form_bot(tmp_path) as rig:
        await _continues_after(rig, "drop")
        assert rig.channel.stream is not None and rig.channel.stream.restarts >= 1  # not the SDK's 10 s sleep


async def test_after_a_disconnect_frame_the_bot_reconnects_and_the_conversation_continues(
    tmp_path: Path,
) -> None:
    async with _form_bot(tmp_path, dingtalk={"reconnect_min_s": 2.0}) as rig:
        await _continues_after(rig, "disconnect")
        assert rig.channel.stream is not None and rig.channel.stream.restarts == 0  # the SDK did it at once


async def test_malformed_frames_are_skipped_without_killing_the_connection(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        good = {"msgtype": "text", "text": {"content": "帮助"}, "senderStaffId": STAFF, "msgId": "m-obj"}
        not_a_string = rig.emu.push_frame("CALLBACK", ROBOT_TOPIC, good)  # data as an object: SDK drops it
        unknown_topic = rig.emu.push_frame("CALLBACK", "/v1.0/im/unknown", json.dumps(good))
        no_sender = rig.emu.push_frame(
            "CALLBACK", ROBOT_TOPIC, json.dumps({"msgtype": "text", "msgId": "m1"})
        )
        odd_type = rig.emu.push_frame(
            "CALLBACK",
            ROBOT_TOPIC,
            json.dumps({"msgtype": "hologram", "msgId": "m2", "senderStaffId": STAFF}),
        )
        empty_text = rig.emu.push_frame(
            "CALLBACK", ROBOT_TOPIC, json.dumps({"msgtype": "text", "msgId": "m3", "senderStaffId": STAFF})
        )
        bad_card = rig.emu.push_frame(
            "CALLBACK", "/v1.0/card/instances/callback", json.dumps({"userId": STAFF})
        )
        for mid in (no_sender, odd_type, empty_text, bad_card):
            await rig.emu.wait_acked(mid)  # skipped but ACKed: resending would not help
        assert await rig.say(STAFF, "帮助")  # the same connection still works
        assert rig.emu.opened == 1
        assert not rig.emu.acked(not_a_string) and not rig.emu.acked(unknown_topic)
        assert len(rig.texts(STAFF)) == 1


async def test_text_that_is_not_a_frame_costs_one_quick_reconnect(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        rig.emu.push_raw("this is not json")  # the SDK's read loop fails on it and drops the socket
        await rig.emu.wait_connected(opened=2, within=5)
        assert len(await rig.say(STAFF, "帮助")) == 1


async def test_a_connection_that_goes_silent_is_recreated(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk={"liveness_timeout_s": 180}) as rig:
        await add_rep(rig)
        await rig.say(STAFF, "帮助")
        await rig.bot.advance(timedelta(minutes=2))
        assert rig.emu.opened == 1
        await rig.bot.advance(timedelta(minutes=2))  # 4 minutes without a frame, not even a ping
        await rig.emu.wait_connected(opened=2)
        assert len(await rig.say(STAFF, "帮助")) == 1


async def test_pings_keep_a_quiet_connection_alive(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with dingtalk_bot(tmp_path, dingtalk={"liveness_timeout_s": 180}) as rig:
        for _ in range(3):
            await rig.bot.advance(timedelta(minutes=2))
            await rig.emu.wait_acked(rig.emu.push_ping())
        assert rig.emu.opened == 1
    # The SDK's warning for each ping (a routine health check) does not reach the operator's log.
    assert not [r for r in caplog.records if "unknown message topic" in r.getMessage()]


async def test_stopping_ends_the_sdk_thread(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        assert any(t.name == "dingtalk-stream" for t in threading.enumerate())
        assert rig.channel.stream is not None and rig.channel.stream.connected
    assert not any(t.name == "dingtalk-stream" for t in threading.enumerate())
