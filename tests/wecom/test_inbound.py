"""What reps see when they write to the bot in WeCom: real crypto, real callback server, emulator."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Application
from core.speech import Transcript
from emulators.wecom import samples
from storage.models import InboundEvent, MediaFile
from tests.wecom.feature import MODULES
from tests.wecom.world import AGENT_ID, CORP_ID, read, wecom_world

DATA = Path(__file__).resolve().parents[1] / "data"


async def inbox_count(w: object) -> int:
    async with w.bot.session() as session:  # type: ignore[attr-defined]
        return int((await session.execute(select(func.count()).select_from(InboundEvent))).scalar_one())


async def test_url_verification_and_a_text_reply(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        check = await w.wecom.verify_url("8806375713651216498")
        assert (check.status, check.body) == (200, "8806375713651216498")
        await w.add_user("wanglei", "王磊")
        posted = await w.say("wanglei", "帮助")
        assert (posted.status, posted.body) == (200, "")
        assert len(w.received("wanglei")) == 1 and "我能帮你做这些" in w.received("wanglei")[0]
        sent = w.emulator.calls("message/send")[-1].body
        assert sent["agentid"] == AGENT_ID and sent["touser"] == "wanglei" and sent["msgtype"] == "text"


class RecordingTranscriber:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, str]] = []

    async def transcribe(
        self, path: Path, *, audio_format: str = "", platform_recognition: str | None = None
    ) -> Transcript:
        data = read(path)
        self.calls.append((data, audio_format))
        return Transcript(
            text="交付周期太长，上次等了三个星期才到货",
            language="zh",
            duration_s=4.0,
            model_name="test",
            model_version="0",
            audio_path=str(path),
            audio_sha256=hashlib.sha256(data).hexdigest(),
            audio_format=audio_format,
        )


async def test_amr_voice_is_downloaded_kept_and_handed_to_speech(tmp_path: Path) -> None:
    amr = (DATA / "voice_sample.amr").read_bytes()
    speech = RecordingTranscriber()
    async with wecom_world(tmp_path, transcriber=speech) as w:
        await w.add_user("wanglei", "王磊")
        media_id = w.emulator.add_media(amr, "voice.amr", "audio/amr")
        posted = await w.wecom.voice("wanglei", media_id)
        await w.settle()
        assert posted.status == 200
        assert speech.calls == [(amr, "amr")]
        replies = w.received("wanglei")
        assert replies[0] == "正在转写…" and "交付周期太长" in replies[-1]
        async with w.bot.session() as session:
            stored = (await session.execute(select(MediaFile))).scalar_one()
        assert stored.kind == "audio" and stored.sha256 == hashlib.sha256(amr).hexdigest()
        assert read(stored.path) == amr and stored.path.endswith(".amr")


async def test_voice_without_a_transcriber_is_kept_and_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Application, "_build_speech", lambda self: (None, None))
    amr = (DATA / "voice_sample.amr").read_bytes()
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        await w.wecom.voice("wanglei", w.emulator.add_media(amr, "voice.amr", "audio/amr"))
        await w.settle()
        assert any("语音转写服务未启用" in t for t in w.received("wanglei"))
        async with w.bot.session() as session:
            assert (await session.execute(select(MediaFile.size))).scalar_one() == len(amr)


async def test_expired_media_id_gets_a_clear_answer(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        await w.wecom.voice("wanglei", "no-such-media")  # media/get answers errcode 40007 as JSON
        await w.settle()
        assert any("下载失败" in t for t in w.received("wanglei"))


async def test_photo_location_and_opening_the_app(tmp_path: Path) -> None:
    photo = (DATA / "photo.jpg").read_bytes()
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        await w.wecom.image("wanglei", w.emulator.add_media(photo, "p.jpg", "image/jpeg"))
        await w.wecom.location("wanglei", 23.134, 113.358, "广州市人民医院")
        await w.wecom.enter_agent("wanglei")
        await w.settle()
        replies = w.received("wanglei")
        assert any("收到照片，已存档" in t for t in replies)
        assert any("已收到位置：广州市人民医院" in t for t in replies)
        assert any("王磊，你好" in t for t in replies)
        async with w.bot.session() as session:
            stored = (await session.execute(select(MediaFile))).scalar_one()
        assert stored.kind == "photo" and read(stored.path) == photo


async def test_redelivered_callbacks_are_handled_once(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        msg_id = w.wecom.next_msg_id()
        xml = samples.text(
            CORP_ID, AGENT_ID, "wanglei", "帮助", msg_id=msg_id, create_time=w.wecom.create_time()
        )
        first = await w.wecom.post(xml)
        again = await w.wecom.post(xml)  # WeCom's retry: same message, fresh random bytes
        enter = samples.enter_agent(CORP_ID, AGENT_ID, "wanglei", create_time=w.wecom.create_time())
        await w.wecom.post(enter)
        await w.wecom.post(enter)
        await w.settle()
        assert first.status == again.status == 200
        assert sum("我能帮你做这些" in t for t in w.received("wanglei")) == 1
        assert sum("你好" in t for t in w.received("wanglei")) == 1
        assert await inbox_count(w) == 2


async def test_unknown_sender_gets_the_core_treatment(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("boss", "周敏", roles=("admin",))
        await w.say("stranger-007", "你好")
        assert any("还没有开通" in t for t in w.received("stranger-007"))
        assert any("新用户请求使用" in t and "stranger-007" in t for t in w.received("boss"))


async def test_other_events_are_acknowledged_and_ignored(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        for xml in (
            samples.event(CORP_ID, AGENT_ID, "sys", "change_contact", create_time=w.wecom.create_time()),
            samples.event(CORP_ID, AGENT_ID, "wanglei", "LOCATION", create_time=w.wecom.create_time()),
        ):
            assert (await w.wecom.post(xml)).status == 200
        await w.settle()
        assert await inbox_count(w) == 0 and w.received("wanglei") == []
