"""试用反馈: product code typed or scanned, pain points, notes → a timestamped PDF with real Chinese
text, stored and sent to the rep and the regional manager."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from bot.testing import BotHarness
from core.messages import File
from domain.fonts import FontMissing, fallback_fonts, find_cjk_font
from storage.models import AuditLog, MediaFile, ProgressUpdate, TrialFeedback
from tests.flows.kit import add_customer, one, org

NOTES = "骨科主任反馈：器械包尺寸偏大，与现有灭菌盒不匹配；培训安排在周三下午更合适。"


def sha256_of(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_to(bot: BotHarness, handle: str) -> list[File]:
    return [m for t, m in bot.sent if t.kind == "user" and t.address == handle and isinstance(m, File)]


async def test_trial_feedback_pdf_goes_to_rep_and_manager(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        r = await bot.send("wanglei", "试用反馈 杭州一院")
        assert "产品编号" in r[-1]  # the customer was prefilled
        r = await bot.send("wanglei", "编号 KL")
        assert "产品编号应为 3–40 位字母、数字" in r[0]
        r = await bot.send("wanglei", "(01)06901234567892(17)271231(10)LOT42")
        assert "产品编号：06901234567892（批号 LOT42，有效期 2027-12-31）" in r[0]
        assert "疼痛点类型" in r[-1]
        await bot.send("wanglei", "1, 2 3")
        r = await bot.send("wanglei", NOTES)
        assert "已发给区域经理 李强" in r[-1]

        row = await one(bot, TrialFeedback)
        assert row.product_code == "06901234567892"
        assert row.pain_points == ["器械适配度", "灭菌兼容性", "培训响应速度"]
        assert NOTES in row.notes and "批号 LOT42" in row.notes
        media = await one(bot, MediaFile, MediaFile.id == row.pdf_media_id)
        assert media.kind == "report" and media.mime == "application/pdf"
        assert media.sha256 == sha256_of(media.path)

        mine, boss = files_to(bot, "wanglei"), files_to(bot, "liqiang")
        assert len(mine) == len(boss) == 1 and mine[0].path == boss[0].path == media.path
        assert mine[0].name == "试用反馈_杭州市第一人民医院_06901234567892_20261123-0900.pdf"
        assert "王磊 提交了试用反馈" in boss[0].caption

        text = "".join(page.extract_text() for page in PdfReader(media.path).pages)
        for expected in (
            "试用反馈报告",
            f"编号 TF-{row.id:05d}",
            "生成时间 2026-11-23 09:00:00 UTC+08:00",
            "杭州市第一人民医院",
            "06901234567892",
            "器械适配度、灭菌兼容性、培训响应速度",
            "销售代表 王磊",
            "区域经理 李强",
            "骨科主任反馈：器械包尺寸偏大，与现有灭菌盒不匹配；",
        ):
            assert expected in text, expected
        reader = PdfReader(media.path)
        assert len(reader.pages) == 1 and "ActionFlow 动作流 · 试用反馈采集" in text
        resources = reader.pages[0]["/Resources"]
        assert isinstance(resources, DictionaryObject)
        fonts = resources["/Font"]
        assert isinstance(fonts, DictionaryObject)
        (font,) = [f.get_object() for f in fonts.values()]
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "/FontFile2" in descriptor  # the glyphs are embedded (a subset: "ABCDEF+Name")
        assert re.fullmatch(r"/[A-Z]{6}\+\S+", str(font["/BaseFont"])), font["/BaseFont"]

        update = await one(bot, ProgressUpdate)
        assert (update.kind, update.progress) == ("trial", "06901234567892")
        created = await one(bot, AuditLog, AuditLog.action == "trial_feedback.create")
        assert created.after is not None and created.after["pdf_sha256"] == media.sha256


async def test_emoji_in_notes_reach_the_pdf_and_what_no_font_has_is_named(tmp_path: Path) -> None:
    if not fallback_fonts():
        pytest.skip("no fallback font installed (scripts/setup.sh installs fonts-symbola)")
    notes = "主任很满意👍，下周扩大试用\ue000"  # U+E000: a private-use character no font draws
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.send("wanglei", "试用反馈 杭州一院")
        await bot.send("wanglei", "KL-2026-0815")
        await bot.send("wanglei", "1")
        r = await bot.send("wanglei", notes)
        told = [x for x in r if "报告字体无法显示" in x]
        assert len(told) == 1 and "\ue000" in told[0] and "👍" not in told[0]
        assert "原文已完整保存" in told[0]
        row = await one(bot, TrialFeedback)
        assert notes in row.notes  # the rep's words are kept whole
        media = await one(bot, MediaFile, MediaFile.id == row.pdf_media_id)
        text = "".join(page.extract_text() for page in PdfReader(media.path).pages)
        assert "主任很满意👍，下周扩大试用" in text and "\ue000" not in text


def test_render_without_fallback_fonts_names_the_emoji_it_left_out() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from domain.trial_report import TrialReport, render

    report = TrialReport(
        1,
        "杭州一院😀",
        "浙江",
        "王磊",
        "李强",
        "KL-1",
        ["灭菌兼容性"],
        "好评😀👍",
        datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    rendered = render(report, find_cjk_font(None))
    assert rendered.left_out == "😀👍"
    text = "".join(page.extract_text() for page in PdfReader(__import__("io").BytesIO(rendered.pdf)).pages)
    assert "杭州一院" in text and "好评" in text


async def test_missing_font_is_a_clear_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(FontMissing, match=r"reports\.font_path"):
        find_cjk_font(None, candidates=(str(tmp_path / "none.ttc"),))
    with pytest.raises(FontMissing, match=r"reports\.font_path .* does not exist"):
        find_cjk_font(tmp_path / "missing.ttf")
    async with BotHarness(tmp_path, reports={"font_path": str(tmp_path / "missing.ttf")}) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.send("wanglei", "试用反馈 杭州市第一人民医院")
        await bot.send("wanglei", "https://scan.example.com/p?code=KL-2024-001")
        await bot.send("wanglei", "器械适配度")
        r = await bot.send("wanglei", "跳过")
        assert "试用反馈已保存，但 PDF 没有生成：reports.font_path" in r[-1]
        row = await one(bot, TrialFeedback)
        assert row.product_code == "KL-2024-001" and row.pdf_media_id is None
        update = await one(bot, ProgressUpdate)  # the trial is in the customer's log all the same
        assert (update.kind, update.progress, update.note) == ("trial", "KL-2024-001", "器械适配度")
        created = await one(bot, AuditLog, AuditLog.action == "trial_feedback.create")
        assert created.after == {"product_code": "KL-2024-001", "pdf": None}


def test_check_config_names_the_font_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli.main import main

    config = tmp_path / "bad.toml"
    config.write_text(f'[reports]\nfont_path = "{tmp_path / "nope.ttc"}"\n', encoding="utf-8")
    assert main(["--config", str(config), "check-config"]) == 2
    assert f"reports.font_path {tmp_path / 'nope.ttc'} does not exist" in capsys.readouterr().out
