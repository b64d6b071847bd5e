"""The whole path through the bot: a voice note in a voice_quote field becomes a ledger quote; bad audio
is refused and kept; other people are answered while a note is being transcribed."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import MAX_STEPS_IN_FLIGHT
from bot.testing import BotHarness, make_settings
from config.settings import SpeechSettings
from speech.ledger import QuoteLedger, verify_chain
from speech.transcriber import WhisperTranscriber
from storage.models import MediaFile, Quote
from tests.core.formkit import FORMKIT_MODULES
from tests.speech.audio_tools import silence, write_wav
from tests.speech.conftest import sha256_of

pytestmark = pytest.mark.slow

FORMS = Path(__file__).resolve().parents[1] / "core" / "forms_alltypes.toml"


def harness(tmp_path: Path, transcriber: WhisperTranscriber | None, **speech: object) -> BotHarness:
    settings = make_settings(tmp_path, forms={"path": str(FORMS)}, speech=speech)
    return BotHarness(
        tmp_path, settings=settings, modules=FORMKIT_MODULES, transcriber=transcriber, quotes=QuoteLedger()
    )


async def at_quote_question(bot: BotHarness, handle: str) -> None:
    await bot.send(handle, "短表单")
    await bot.send(handle, "第一题的回答")
    replies = await bot.send(handle, "第二题的回答")
    assert "客户原话？" in replies[-1]


async def test_voice_note_becomes_an_unchangeable_quote(
    tmp_path: Path, transcriber: WhisperTranscriber, audio: Path
) -> None:
    async with harness(tmp_path, transcriber) as bot:
        rep = await bot.add_user("wanglei", "王磊")
        await at_quote_question(bot, "wanglei")
        note = audio / "sample4.wav"
        replies = await bot.voice("wanglei", note, recognition="设备科对售后服务的响应时间不太满意")
        assert replies[0] == "正在转写…"
        recorded = next(r for r in replies if "客户原话已记录（原话 #1，不可修改）" in r)
        assert "售后服务" in recorded
        answers = json.loads(replies[-1].removeprefix("完成："))
        async with bot.session() as s:
            quote = (await s.execute(select(Quote))).scalar_one()
            media = (await s.execute(select(MediaFile))).scalar_one()
            report = await verify_chain(s, check_audio=True)
        # the platform's recognition is the quote's text; ours stays beside it in the ledger entry
        said = "设备科对售后服务的响应时间不太满意"
        assert answers["quote"] == {"quote_id": quote.id, "text": said}
        assert said in recorded and "售后服务" in quote.transcript
        assert quote.rep_id == rep.id and quote.language == "zh" and quote.model_name == "whisper-base"
        assert quote.audio_sha256 == sha256_of(note) == media.sha256
        assert Path(quote.audio_path) == Path(media.path) and Path(media.path).is_relative_to(
            tmp_path / "data"
        )
        assert quote.platform_recognition == "设备科对售后服务的响应时间不太满意"
        assert 3.5 < quote.duration_s < 3.7
        assert report.ok and report.count == 1 and report.audio_checked == 1


async def test_bad_audio_is_refused_kept_and_asked_again(
    tmp_path: Path, transcriber: WhisperTranscriber, data_dir: Path
) -> None:
    async with harness(tmp_path, transcriber) as bot:
        await bot.add_user("wanglei")
        await at_quote_question(bot, "wanglei")
        replies = await bot.voice("wanglei", data_dir / "photo.jpg")
        assert replies[0] == "正在转写…"
        assert "不是可识别的语音" in replies[1] and "原文件已保存" in replies[1]
        assert replies[1].endswith("请按住说话重新录一条。"), replies[1]
        assert "客户原话？" in replies[-1]
        async with bot.session() as s:
            assert (await s.execute(select(Quote))).first() is None
            kept = (await s.execute(select(MediaFile))).scalar_one()
        assert sha256_of(Path(kept.path)) == sha256_of(data_dir / "photo.jpg")


async def test_over_long_note_is_refused_with_the_limit(
    tmp_path: Path, speech_settings: SpeechSettings, audio: Path
) -> None:
    short_limit = WhisperTranscriber(speech_settings.model_copy(update={"max_duration_s": 2.0}))
    try:
        async with harness(tmp_path, short_limit) as bot:
            await bot.add_user("wanglei")
            await at_quote_question(bot, "wanglei")
            replies = await bot.voice("wanglei", audio / "sample4.wav")
            assert "超过 2 秒 的上限" in replies[1] and "客户原话？" in replies[-1]
    finally:
        short_limit.close()


async def test_without_a_model_the_rep_is_told_and_nothing_is_lost(tmp_path: Path, audio: Path) -> None:
    # No transcriber passed: the application builds one from settings, and this model does not exist.
    async with harness(tmp_path, None, model=str(tmp_path / "no-such-model")) as bot:
        assert bot.app.dispatcher.transcriber is None
        await bot.add_user("wanglei")
        await at_quote_question(bot, "wanglei")
        replies = await bot.voice("wanglei", audio / "sample4.wav")  # no platform recognition
        assert replies[0] == "语音转写服务未启用，原始录音已保存。请联系管理员。"
        assert "客户原话？" in replies[-1]  # the form asks again
        async with bot.session() as s:
            kept = (await s.execute(select(MediaFile))).scalar_one()
            assert (await s.execute(select(Quote))).first() is None
        assert kept.kind == "audio" and sha256_of(Path(kept.path)) == sha256_of(audio / "sample4.wav")
        # The same note, now with the platform's text (sent again from DingTalk): it becomes the quote.
        replies = await bot.voice(
            "wanglei", audio / "sample4.wav", recognition="设备科对售后服务的响应时间不太满意"
        )
        assert any(r.startswith("客户原话已记录（原话 #1，不可修改）") for r in replies)


SAID4 = "设备科对售后服务的响应时间不太满意"


@pytest.mark.parametrize("where", ["at start", "when the note comes"])
async def test_without_a_model_the_platforms_recognition_becomes_the_quote(
    tmp_path: Path, audio: Path, where: str
) -> None:
    """No local model (none at start, or none when the worker loads it): a note that carries the
    platform's recognition is kept with that text, and the ledger records that there is no local
    transcript."""
    missing = str(tmp_path / "no-such-model")
    late = WhisperTranscriber(SpeechSettings(model=missing)) if where == "when the note comes" else None
    try:
        async with harness(tmp_path, late, model=missing) as bot:
            await bot.add_user("wanglei", "王磊")
            await at_quote_question(bot, "wanglei")
            note = audio / "sample4.wav"
            replies = await bot.voice("wanglei", note, recognition=SAID4)
            recorded = next(r for r in replies if r.startswith("客户原话已记录"))
            assert recorded.startswith(f"客户原话已记录（原话 #1，不可修改）：“{SAID4}”")
            assert "本地转写暂未启用，这条原话采用平台识别的文字，原始录音已保存。" in recorded
            assert "转写可能不准" not in recorded and "语音转写服务未启用" not in "".join(replies)
            answers = json.loads(replies[-1].removeprefix("完成："))
            async with bot.session() as s:
                quote = (await s.execute(select(Quote))).scalar_one()
                media = (await s.execute(select(MediaFile))).scalar_one()
                report = await verify_chain(s, check_audio=True)
            assert answers["quote"] == {"quote_id": quote.id, "text": SAID4}
            assert (quote.transcript, quote.platform_recognition, quote.model_name) == ("", SAID4, "none")
            assert quote.audio_sha256 == sha256_of(note) == media.sha256 and quote.audio_format == "wav"
            assert 3.5 < quote.duration_s < 3.7  # read from the file's header
            assert report.ok and report.audio_checked == 1
    finally:
        if late is not None:
            late.close()


async def test_others_are_answered_while_a_note_is_transcribed(
    tmp_path: Path, transcriber: WhisperTranscriber, audio: Path
) -> None:
    async with harness(tmp_path, transcriber) as bot:
        await bot.add_user("wanglei")
        await bot.add_user("liqiang")
        await at_quote_question(bot, "wanglei")
        done_before = transcriber.notes_done
        await bot.console.voice("wanglei", audio / "sample1.wav")  # submitted; processed in the background
        for _ in range(2000):  # wait (bounded) until the note is inside the model
            if transcriber.in_progress:
                break
            await asyncio.sleep(0.005)
        assert transcriber.in_progress == 1

        await bot.console.say("liqiang", "帮助")
        for _ in range(2000):
            await bot.app.outbox.drain()
            if bot.texts_to("liqiang"):
                break
            await asyncio.sleep(0.005)
        # 李强 has his answer while 王磊's note is still being transcribed.
        assert bot.texts_to("liqiang") and "帮助" in bot.texts_to("liqiang")[0]
        assert transcriber.in_progress == 1 and transcriber.notes_done == done_before
        assert bot.texts_to("wanglei")[-1] == "正在转写…"

        await bot.settle()
        assert any("客户原话已记录" in t for t in bot.texts_to("wanglei"))


async def wait_for(condition: Callable[[], bool], bot: BotHarness, rounds: int = 2000) -> bool:
    """Poll (bounded) while the bot works in the background, delivering what is due."""
    for _ in range(rounds):
        await bot.app.outbox.drain()
        if condition():
            return True
        await asyncio.sleep(0.005)
    return False


async def test_a_burst_of_notes_does_not_hold_up_other_people(
    tmp_path: Path, speech_settings: SpeechSettings
) -> None:
    """More notes than the bot's processing slots wait in the transcriber's queue, not in the slots."""
    busy = WhisperTranscriber(speech_settings)
    gate = threading.Event()
    for _ in range(speech_settings.num_workers):  # both workers taken: every note has to queue
        busy._pool.submit(gate.wait)
    note = write_wav(tmp_path / "quiet.wav", silence(1))
    try:
        async with harness(tmp_path, busy) as bot:
            try:
                reps = [f"rep{i}" for i in range(MAX_STEPS_IN_FLIGHT + 2)]
                for handle in [*reps, "liqiang"]:
                    await bot.add_user(handle)
                for handle in reps:
                    await bot.console.voice(handle, note)
                assert await wait_for(lambda: busy.queue_depth == len(reps), bot)

                await bot.console.say("liqiang", "帮助")
                assert await wait_for(lambda: bool(bot.texts_to("liqiang")), bot), "李强 was kept waiting"
                assert busy.queue_depth == len(reps)
            finally:
                gate.set()  # (before the harness stops: it waits for every event in flight)
            await bot.settle()
            assert all(bot.texts_to(h)[-1].startswith("收到语音") for h in reps)
    finally:
        gate.set()
        busy.close()
