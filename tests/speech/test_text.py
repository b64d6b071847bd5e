"""Transcript clean-up: echoed prompts and hotwords, repeats and subtitle credits are dropped; Chinese
comes out Simplified with full-width punctuation."""

from __future__ import annotations

from speech.text import clean_segments, join_segments, to_simplified

PROMPT = "以下是普通话的句子，使用简体中文。"


def test_prompt_echo_and_subtitle_credits_are_dropped() -> None:
    kept, dropped = clean_segments(
        ["以下是普通话的句子。", "。。。。。。", "中文字幕製作：某某", "采购成本太高了。"], prompt=PROMPT
    )
    assert kept == ["采购成本太高了。"] and dropped == 3


def test_repeated_segments_are_dropped_but_different_ones_kept() -> None:
    kept, dropped = clean_segments(["太贵了。", "太贵了", "太贵了，真的太贵了。"])
    assert kept == ["太贵了。", "太贵了，真的太贵了。"] and dropped == 1


def test_hotword_lists_are_dropped_but_sentences_using_them_are_kept() -> None:
    hotwords = "灭菌 器械包 骨科耗材"
    kept, dropped = clean_segments(
        ["骨科耗 器械包 骨科耗 器械包", "灭菌", "器械包的灭菌太慢了。"], hotwords=hotwords
    )
    assert kept == ["器械包的灭菌太慢了。"] and dropped == 2


def test_short_genuine_answers_survive() -> None:
    kept, _ = clean_segments(["好的。", "可以"], prompt=PROMPT)
    assert kept == ["好的。", "可以"]


def test_chinese_is_simplified_with_full_width_punctuation_and_english_is_spaced() -> None:
    assert (
        join_segments(["採購成本太高了,預算只有去年的八成", "對嗎?"], "zh")
        == "采购成本太高了，预算只有去年的八成对吗？"
    )
    assert join_segments(["Send the price list.", "Thanks, Li."], "en") == "Send the price list. Thanks, Li."
    assert to_simplified("設備科對售後服務不滿意") == "设备科对售后服务不满意"
