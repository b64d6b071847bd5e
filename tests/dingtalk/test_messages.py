"""Robot messages in, replies out, through the real dingtalk-stream SDK and the emulator's websocket."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import Application
from core.speech import Transcript
from emulators.dingtalk.rig import DingTalkRig, dingtalk_bot
from storage.models import MediaFile
from tests.dingtalk.helpers import STAFF, add_rep

AMR = b"#!AMR\n" + bytes(range(256)) * 8


async def test_a_reps_text_gets_a_reply(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        replies = await rig.say(STAFF, "帮助")
        assert len(replies) == 1 and "我能帮你做这些" in replies[0]
        sent = rig.emu.messages_to(STAFF)[0]
        assert sent.api == "oto" and sent.msg_key == "sampleText"
        assert rig.emu.rejected == []


async def test_a_group_message_is_answered_in_the_group(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        mid = rig.emu.push_text(STAFF, "帮助", group=True, conversation_id="cidSalesGroup==")
        await rig.deliver(mid)
        assert rig.emu.texts_to(STAFF) == []
        [reply] = rig.emu.messages_to("cidSalesGroup==")
        assert reply.api == "group" and "我能帮你做这些" in reply.text


async def _media_rows(rig: DingTalkRig) -> list[MediaFile]:
    async with rig.bot.session() as session:
        return list((await session.execute(select(MediaFile))).scalars())


async def test_voice_note_is_downloaded_and_stored_without_a_transcriber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Application, "_build_speech", lambda self: (None, None))
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        mid = rig.emu.push_audio(STAFF, AMR, recognition="客户说交付太慢")
        await rig.deliver(mid)
        [row] = await _media_rows(rig)
        assert row.sha256 == hashlib.sha256(AMR).hexdigest() and row.kind == "audio"
        assert await asyncio.to_thread(Path(row.path).read_bytes) == AMR and row.path.endswith(".amr")
        assert rig.emu.calls("download") == 1
        # No model, but DingTalk's recognition came with it: that is what the bot heard (docs/speech.md).
        assert rig.texts(STAFF)[-1] == (
            "收到语音（平台识别）：“客户说交付太慢”。如需记录客户原话，请在需求确认单中发送。"
        )
        await rig.deliver(rig.emu.push_audio(STAFF, AMR + b"\x00", recognition=""))
        assert rig.texts(STAFF)[-1] == "语音转写服务未启用，原始录音已保存。请联系管理员。"
        assert len(await _media_rows(rig)) == 2


class RecordingTranscriber:
    """The speech port (built in its own area): records what the channel handed over."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, str, str | None]] = []

    async def transcribe(
        self, path: Path, *, audio_format: str = "", platform_recognition: str | None = None
    ) -> Transcript:
        data = await asyncio.to_thread(path.read_bytes)
        self.calls.append((data, audio_format, platform_recognition))
        return Transcript(
            text="我们的交付周期太长了",
            language="zh",
            duration_s=4.0,
            model_name="test",
            model_version="0",
            audio_path=str(path),
            audio_sha256=hashlib.sha256(data).hexdigest(),
            audio_format=audio_format,
            platform_recognition=platform_recognition,
        )


async def test_voice_note_reaches_speech_with_bytes_format_and_dingtalks_recognition(tmp_path: Path) -> None:
    speech = RecordingTranscriber()
    async with dingtalk_bot(tmp_path, transcriber=speech) as rig:
        await add_rep(rig)
        await rig.deliver(rig.emu.push_audio(STAFF, AMR, recognition="客户说交付太慢", duration_ms=4200))
        assert speech.calls == [(AMR, "amr", "客户说交付太慢")]
        texts = rig.texts(STAFF)
        # Outside a form the bot says what it heard: DingTalk's text, the quote's text by the rule
        assert texts[0] == "正在转写…" and "“客户说交付太慢”" in texts[-1]


async def test_pictures_files_and_rich_text_are_stored(tmp_path: Path, data_dir: Path) -> None:
    photo = (data_dir / "photo.jpg").read_bytes()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, "PNG")
    inline = buffer.getvalue()
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        await rig.deliver(rig.emu.push_picture(STAFF, photo))
        await rig.deliver(rig.emu.push_file(STAFF, b"%PDF-1.4 trial report", "试用报告.pdf"))
        await rig.deliver(rig.emu.push_rich_text(STAFF, ["现场照片如下：", inline]))
        rows = await _media_rows(rig)
        kinds = sorted((r.kind, r.original_name) for r in rows)
        assert kinds == [("file", "试用报告.pdf"), ("photo", ""), ("photo", "")]
        assert {hashlib.sha256(photo).hexdigest(), hashlib.sha256(inline).hexdigest()} <= {
            r.sha256 for r in rows
        }
        texts = rig.texts(STAFF)
        assert sum("已收到文件" in t for t in texts) == 1  # the file; each picture gets:
        assert sum("收到照片，已存档" in t for t in texts) == 2
        assert any("没听懂「现场照片如下：」" in t for t in texts)  # the rich text's words came through


async def test_an_unknown_sender_is_answered_politely(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        replies = await rig.say("stranger-9", "你好")
        assert replies and "还没有开通" in replies[0]


async def test_the_access_token_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk={"liveness_timeout_s": 10**6}) as rig:
        await add_rep(rig)
        await rig.say(STAFF, "帮助")
        assert rig.emu.tokens_issued == 1
        await rig.bot.advance(timedelta(hours=1))
        await rig.say(STAFF, "帮助")
        assert rig.emu.tokens_issued == 1  # cached
        await rig.bot.advance(timedelta(minutes=56))  # 4 minutes before expiry: inside the margin
        assert len(await rig.say(STAFF, "帮助")) == 1
        assert rig.emu.tokens_issued == 2
        assert rig.emu.rejected == []  # never sent an expired token


async def test_a_revoked_token_is_replaced_and_the_message_still_goes_out(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        await rig.say(STAFF, "帮助")
        rig.emu.revoke_tokens()
        assert len(await rig.say(STAFF, "帮助")) == 1
        assert rig.emu.tokens_issued == 2
        assert ("oto", "invalid token") in rig.emu.rejected
