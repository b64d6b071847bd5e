"""更正 with bad input: clear answers, nothing lost, the ledger still verifies (console, no model needed:
the quote is appended straight to the ledger as the form would); a corrected quote in the profile."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from bot.testing import BotHarness
from core.speech import Transcript
from speech.ledger import QuoteLedger, verify_chain
from storage.models import QuoteAnnotation
from tests.flows.kit import ScriptedTranscriber, add_customer, org, scripted_note, visit_fields

SAID = "我们颗是最头疼的是气泄包的面均坚融性问题。"


async def quote_by(bot: BotHarness, handle: str) -> int:
    user = await bot.user(handle)
    async with bot.session() as s:
        return await QuoteLedger().record(
            s,
            now=bot.clock.now(),
            transcript=Transcript(
                text=SAID,
                language="zh",
                duration_s=3.8,
                model_name="whisper-base",
                model_version="test",
                audio_path="data/audio/x.wav",
                audio_sha256="0" * 64,
                audio_format="wav",
            ),
            rep_id=user.id,
            customer_id=None,
            visit_id=None,
        )


async def test_bad_corrections_get_clear_answers_and_lose_nothing(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        r = await bot.send("wanglei", "更正 我们科室最头疼的是器械包的灭菌兼容性问题")
        assert r[-1].startswith("近 24 小时内没有你记录的客户原话。")
        quote_id = await quote_by(bot, "wanglei")
        r = await bot.send("wanglei", f"更正 #{quote_id}")
        assert f"例如「更正 #{quote_id} " in r[-1]
        r = await bot.send("wanglei", "更正 #999 客户说的是别的")
        assert r[-1].startswith("没有找到原话 #999")
        r = await bot.send("wanglei", "更正 " + "很" * 501)
        assert "更正内容太长了（最多 500 字）" in r[-1]
        r = await bot.send("wanglei", f"更正 {SAID}")
        assert "完全一样，不需要更正" in r[-1]
        r = await bot.send("zhangting", f"更正 #{quote_id} 客户很满意")
        assert "只有记录人可以更正" in r[-1] and "王磊" in r[-1]
        # control characters and line breaks become single spaces; the words are kept
        r = await bot.send("wanglei", "更正\u0000 我们科室最头疼的是\n器械包的\u202e灭菌兼容性问题")
        assert r[-1].startswith(f"已记录你对最近一条原话 #{quote_id}（")
        assert "销售更正：“我们科室最头疼的是 器械包的 灭菌兼容性问题”" in r[-1]
        r = await bot.send("wanglei", "更正 我们科室最头疼的是 器械包的 灭菌兼容性问题")
        assert r[-1] == f"原话 #{quote_id} 已经有这条更正了，不用重复提交。"
        r = await bot.send("zhangting", f"原话 #{quote_id}")
        assert r[-1] == f"没有找到原话 #{quote_id}。"  # a rep does not read another rep's quotes
        r = await bot.send("liqiang", f"原话 #{quote_id}")
        assert "销售更正（王磊" in r[-1]
        async with bot.session() as s:
            notes = (await s.execute(select(QuoteAnnotation))).scalars().all()
            assert len(notes) == 1 and (await verify_chain(s)).ok


async def test_the_profiles_recent_updates_show_the_quote_as_the_ledger_does(
    tmp_path: Path, db_url: str
) -> None:
    """最近跟进 used to print the copy taken when the demand was filed, without the correction."""
    platform = "我们科室最头疼的是器械包的灭菌兼容性问题"
    fixed = "我们科室最头疼的是器械包灭菌兼容性的问题"
    tr = ScriptedTranscriber()
    async with BotHarness(tmp_path, transcriber=tr, quotes=QuoteLedger(), db_url=db_url) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
        await bot.advance(timedelta(hours=2))
        Image.new("RGB", (64, 48), (90, 90, 90)).save(tmp_path / "door.jpg")
        await bot.photo("wanglei", tmp_path / "door.jpg")
        for answer in ("确定预算范围", "无", "否"):
            await bot.send("wanglei", answer)
        await bot.voice("wanglei", scripted_note(tmp_path, tr, "said", SAID), recognition=platform)
        await bot.send("wanglei", "采购成本高")
        await bot.send("wanglei", "无")
        r = await bot.send("wanglei", f"更正 #1 {fixed}")  # later, from the profile's number
        assert r[-1].startswith("已记录你对原话 #1（杭州市第一人民医院，")
        r = await bot.send("liqiang", "客户 杭州市第一人民医院")
        profile = r[-1].splitlines()
        recent = profile[profile.index("最近跟进：") + 1]
        assert recent == (f"  · 11-23 王磊 需求确认：采购成本高 “{platform}”，销售更正（王磊）：“{fixed}”")
        # not the local text; no nested brackets; the local homophones do not make the platform's text doubtful
        assert "气泄包" not in r[-1] and "（销售更正" not in r[-1] and "转写可能不准" not in r[-1]
