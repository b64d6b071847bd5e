"""When a quote is marked 转写可能不准. With the platform's text as the quote's text, the local model's own
confidence says nothing about it: only a clear difference between the two texts (measured by sound,
bench/doubt.py) flags it. The real model on the auditor's note n03 with DingTalk's correct text is not
flagged; another sentence is."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from domain.quotes import DISAGREEMENT_THRESHOLD, disagreement, doubt_reasons
from speech.transcriber import WhisperTranscriber
from storage.models import Quote, QuoteAnnotation
from tests.speech.test_flow import at_quote_question, harness

REPO = Path(__file__).resolve().parents[2]
N03 = REPO / "bench" / "data" / "speech" / "n03.ogg"
N03_SAID = "高压蒸汽灭菌之后器械包经常出现湿包"
# What the base model made of n03 without the vocabulary repair, and its worst window's log-probability.
N03_LOCAL, N03_LOGPROB = "高压中气面筋之后气血包经常出现施包。", -0.488
OTHER = "设备科说今年的预算已经被砍掉一半了"


def test_a_correct_platform_text_is_not_doubted_for_the_local_models_errors() -> None:
    assert (
        doubt_reasons(transcript=N03_LOCAL, platform=N03_SAID, avg_logprob=N03_LOGPROB, compression_ratio=3.0)
        == []
    )
    assert disagreement(N03_LOCAL, N03_SAID) < DISAGREEMENT_THRESHOLD  # homophones cost nothing
    assert disagreement("报价比美敦力高了15%", "报价比美顿力高了百分之十五") == 0.0


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("一年大概用20000个", "一年大概用两万个"),  # was 0.45 apart: 20000 was read 二零零零零
        ("三万多块钱", "30000多块钱"),  # was 0.5
        ("一年大概用20000个", "一年大概用二万个"),
        ("院里有120000份病历", "院里有十二万份病历"),
        ("预算10005元", "预算一万零五元"),
        ("总价150000000", "总价一亿五千万"),
        ("两千台", "2000台"),
        ("1010个", "一千零一十个"),
        ("报价比美敦力高了15%", "报价比美顿力高了百分之十五"),
    ],
)
def test_a_number_in_digits_sounds_as_it_is_said(written: str, said: str) -> None:
    """Numbers are read in 万/亿 groups as people say them, and 两 is 二: a platform that writes the digits
    and a local model that writes the words heard the same thing."""
    assert disagreement(written, said) == 0.0
    assert doubt_reasons(transcript=said, platform=written, avg_logprob=-0.1, compression_ratio=1.0) == []


def test_different_numbers_still_differ() -> None:
    assert disagreement("一年大概用20000个", "一年大概用三万个") > 0
    assert disagreement("预算10005元", "预算一万五千元") > 0


def test_clearly_different_texts_are_doubted() -> None:
    assert doubt_reasons(transcript=N03_LOCAL, platform=OTHER, avg_logprob=-0.1, compression_ratio=1.0) == [
        "平台识别与本地转写差别较大"
    ]
    half = N03_SAID[:9] + OTHER[-8:]  # DingTalk got the second half wrong
    assert disagreement(N03_LOCAL, half) > DISAGREEMENT_THRESHOLD


def test_the_local_models_confidence_counts_when_its_text_is_the_quote() -> None:
    assert doubt_reasons(
        transcript=N03_LOCAL, platform=None, avg_logprob=N03_LOGPROB, compression_ratio=2.5
    ) == [
        "识别置信度低",
        "转写有重复",
    ]
    assert doubt_reasons(transcript=N03_LOCAL, platform="  ", avg_logprob=-0.2, compression_ratio=1.0) == []


@pytest.mark.slow
async def test_n03_with_dingtalks_correct_text_is_not_flagged(
    tmp_path: Path, transcriber: WhisperTranscriber
) -> None:
    async with harness(tmp_path, transcriber) as bot:
        await bot.add_user("wanglei", "王磊")
        await at_quote_question(bot, "wanglei")
        replies = await bot.voice("wanglei", N03, recognition=N03_SAID)
        recorded = next(r for r in replies if r.startswith("客户原话已记录"))
        assert f"“{N03_SAID}”" in recorded and "转写可能不准" not in recorded
        await at_quote_question(bot, "wanglei")
        replies = await bot.voice("wanglei", N03, recognition=OTHER)  # the platform heard another note
        recorded = next(r for r in replies if r.startswith("客户原话已记录"))
        assert "⚠️ 转写可能不准（平台识别与本地转写差别较大），请对照录音核对。" in recorded
        async with bot.session() as s:
            first, second = (await s.execute(select(Quote).order_by(Quote.seq))).scalars()
            notes = (await s.execute(select(QuoteAnnotation.quote_id, QuoteAnnotation.kind))).all()
        assert notes == [(second.id, "doubt")]
        assert first.transcript and first.transcript != N03_SAID  # the local text had errors all the same
