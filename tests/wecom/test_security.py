"""Forged, replayed, malformed and hostile callbacks are refused, and nothing of them is stored."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from emulators.wecom import crypto, samples
from storage.models import InboundEvent, OutboxMessage
from tests.wecom.world import AES_KEY, AGENT_ID, CORP_ID, TOKEN, World, wecom_world


async def stored(w: World) -> tuple[int, int]:
    async with w.bot.session() as session:
        inbox = (await session.execute(select(func.count()).select_from(InboundEvent))).scalar_one()
        outbox = (await session.execute(select(func.count()).select_from(OutboxMessage))).scalar_one()
    return int(inbox), int(outbox)


def text_xml(w: World, content: str = "帮助") -> str:
    return samples.text(
        CORP_ID, AGENT_ID, "wanglei", content, msg_id=w.wecom.next_msg_id(), create_time=w.wecom.create_time()
    )


def sealed(
    w: World, plaintext: str, *, key: str = AES_KEY, corp: str = CORP_ID, token: str = TOKEN
) -> tuple[dict[str, str], str]:
    encrypt = crypto.encrypt(plaintext, key, corp)
    ts, nonce = str(w.wecom.create_time()), "12345"
    query = {"msg_signature": crypto.signature(token, ts, nonce, encrypt), "timestamp": ts, "nonce": nonce}
    return query, samples.envelope(corp, AGENT_ID, encrypt)


async def test_forged_signature_is_403_and_nothing_is_stored(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        query, body = sealed(w, text_xml(w), token="not-the-token")
        assert (await w.wecom.post_raw(query, body)).status == 403
        query, body = w.wecom.seal(text_xml(w))
        tampered = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA")
        assert (await w.wecom.post_raw(query, tampered)).status == 403
        check = await w.wecom.verify_url("123")
        assert check.status == 200
        await w.settle()
        assert await stored(w) == (0, 0) and w.emulator.messages == []


async def test_forged_url_verification_is_403(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w, aiohttp.ClientSession() as http:
        echostr = crypto.encrypt("123", AES_KEY, CORP_ID)
        ts = str(w.wecom.create_time())
        query = {"msg_signature": "f" * 40, "timestamp": ts, "nonce": "1", "echostr": echostr}
        async with http.get(w.channel.callback_url, params=query) as resp:
            assert resp.status == 403 and await resp.text() == ""
        async with http.get(w.channel.callback_url) as resp:
            assert resp.status == 400


async def test_wrong_corp_and_broken_ciphertext_are_400(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        query, body = sealed(w, text_xml(w), corp="ww0000000000000000")
        assert (await w.wecom.post_raw(query, body)).status == 400
        query, body = sealed(w, text_xml(w), key=crypto.random_key())
        assert (await w.wecom.post_raw(query, body)).status == 400
        for garbage in ("AAAA", "QUJD" * 11, "%%%"):
            ts = str(w.wecom.create_time())
            q = {"msg_signature": crypto.signature(TOKEN, ts, "1", garbage), "timestamp": ts, "nonce": "1"}
            assert (await w.wecom.post_raw(q, samples.envelope(CORP_ID, AGENT_ID, garbage))).status == 400
        await w.settle()
        assert await stored(w) == (0, 0)


async def test_replayed_callback_is_refused(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        old = str(w.wecom.create_time() - 301)  # wecom.replay_window_s is 300
        replay = await w.wecom.post(text_xml(w), timestamp=old)
        assert replay.status == 403
        future = await w.wecom.post(text_xml(w), timestamp=str(w.wecom.create_time() + 3600))
        assert future.status == 403
        assert (await w.wecom.verify_url("1", timestamp=old)).status == 403
        fresh = await w.wecom.post(text_xml(w), timestamp=str(w.wecom.create_time() - 250))
        assert fresh.status == 200
        await w.settle()
        assert (await stored(w))[0] == 1 and len(w.received("wanglei")) == 1


async def test_malformed_and_entity_expansion_payloads_are_refused(tmp_path: Path) -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "哈哈哈哈哈哈哈哈哈哈">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        "<xml><ToUserName>x</ToUserName><FromUserName>wanglei</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>&c;</Content><MsgId>1</MsgId></xml>"
    )
    external = (
        '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        "<xml><FromUserName>wanglei</FromUserName><MsgType>text</MsgType><Content>&e;</Content></xml>"
    )
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        for plaintext in ("this is not xml", "<xml><Content>unclosed</xml>", bomb, external):
            assert (await w.wecom.post(plaintext)).status == 400, plaintext[:30]
        query, _ = w.wecom.seal(text_xml(w))
        envelope_bomb = '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>'
        assert (await w.wecom.post_raw(query, envelope_bomb)).status == 400
        assert (await w.wecom.post_raw(query, "<xml>")).status == 400
        await w.settle()
        assert await stored(w) == (0, 0)


async def test_oversized_body_is_413(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, wecom={"max_body_bytes": 4096}) as w:
        await w.add_user("wanglei", "王磊")
        big = await w.wecom.post(text_xml(w, "很长" * 2000))
        assert big.status == 413

        async def chunks() -> object:  # no Content-Length: the limit still holds
            for _ in range(10):
                yield b"<xml>" + b"x" * 1000

        query, _ = w.wecom.seal(text_xml(w))
        async with (
            aiohttp.ClientSession() as http,
            http.post(w.channel.callback_url, params=query, data=chunks()) as resp,
        ):
            assert resp.status == 413
        normal = await w.wecom.post(text_xml(w))
        await w.settle()
        assert normal.status == 200 and await stored(w) == (1, 1)


async def test_out_of_range_time_and_repeated_elements_are_400_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        await w.add_user("liqiang", "李强", roles=("admin",))
        for create_time in ("99999999999999999999", "-99999999999", "4102444801", "12abc"):
            plaintext = text_xml(w).replace(
                f"<CreateTime>{w.wecom.create_time()}</CreateTime>", f"<CreateTime>{create_time}</CreateTime>"
            )
            assert create_time in plaintext
            assert (await w.wecom.post(plaintext)).status == 400, create_time
        two_senders = text_xml(w).replace(
            "<FromUserName><![CDATA[wanglei]]></FromUserName>",
            "<FromUserName><![CDATA[WangLei]]></FromUserName><FromUserName><![CDATA[LiQiang]]></FromUserName>",
        )
        assert "LiQiang" in two_senders
        assert (await w.wecom.post(two_senders)).status == 400
        await w.settle()
        assert await stored(w) == (0, 0) and w.emulator.messages == []
    refused = [r for r in caplog.records if r.getMessage() == "wecom callback refused"]
    assert len(refused) == 5 and all(getattr(r, "status", None) == 400 for r in refused)
    assert "appears 2 times" in str(getattr(refused[-1], "reason", ""))
