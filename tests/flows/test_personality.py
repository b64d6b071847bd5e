"""客户个性标签: configurable tags with their basis; every later visitor sees them and the preferences."""

from __future__ import annotations

from pathlib import Path

from bot.testing import BotHarness
from storage.models import AuditLog, Customer, PersonalityTag
from tests.flows.kit import add_customer, one, org, rows, visit_fields


async def test_tags_are_seen_by_the_next_visitor(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        cid = await add_customer(bot, "杭州市第一人民医院", "wanglei", shared=True)
        r = await bot.send("wanglei", "客户个性标签")
        assert "哪家客户" in r[-1]
        r = await bot.send("wanglei", "杭州一院")
        assert "客户：杭州市第一人民医院" in r[0] and "怕担责型" in r[-1]
        r = await bot.send("wanglei", "1 2 9")
        assert "“9”不是可选项" in r[0]
        await bot.send("wanglei", "怕担责型、数据控型")
        r = await bot.send("wanglei", "嗯")
        assert "至少需要 4 个字" in r[0]
        await bot.send("wanglei", "王主任说出了问题谁负责，要看三家医院的数据")
        r = await bot.send("wanglei", "需提供3家同类医院使用案例+院长签字版效益分析报告")
        assert "已为「杭州市第一人民医院」记录个性标签：怕担责型、数据控型" in r[-1]
        tags = await rows(bot, PersonalityTag)
        wanglei = await bot.user("wanglei")
        assert [(t.tag, t.author_id, t.customer_id) for t in tags] == [
            ("怕担责型", wanglei.id, cid),
            ("数据控型", wanglei.id, cid),
        ]
        customer = await one(bot, Customer)
        assert customer.preferences == "需提供3家同类医院使用案例+院长签字版效益分析报告"

        # 张婷 visits the (shared) customer next: her brief shows the tags and preferences.
        r = await bot.approval("zhangting", "AP-7", "submitted", visit_fields("杭州市第一人民医院"))
        brief = r[-1]
        assert "怕担责型 — 王主任说出了问题谁负责，要看三家医院的数据（王磊）" in brief
        assert "数据控型 — 王主任说出了问题谁负责" in brief
        assert "决策者偏好：需提供3家同类医院使用案例+院长签字版效益分析报告" in brief

        # She refines a tag; the latest basis is shown, once.
        await bot.send("zhangting", "个性标签 杭州市第一人民医院")
        await bot.send("zhangting", "数据控型")
        await bot.send("zhangting", "这次又要了近一年的不良事件统计")
        await bot.send("zhangting", "跳过")
        r = await bot.send("zhangting", "客户 杭州市第一人民医院")
        tag_section = r[-1].split("客户个性标签：")[1].split("决策者偏好")[0]
        assert (
            tag_section.count("数据控型") == 1
            and "数据控型 — 这次又要了近一年的不良事件统计（张婷）" in tag_section
        )
        assert "决策者偏好：需提供3家同类医院" in r[-1]  # an empty answer keeps the preferences
        audit = [a for a in await rows(bot, AuditLog) if a.entity_type in ("personality_tag", "customer")]
        assert [a.action for a in audit] == [
            "personality_tag.add",
            "personality_tag.add",
            "customer.update",
            "personality_tag.add",
        ]
        assert audit[2].before == {"preferences": ""}


def forms_with_other_tags(tmp_path: Path) -> Path:
    forms = (Path(__file__).resolve().parents[2] / "config" / "forms.toml").read_text(encoding="utf-8")
    custom = tmp_path / "forms.toml"
    custom.write_text(forms.replace('"怕担责型", "数据控型"', '"谨慎保守型", "数据控型"'), encoding="utf-8")
    return custom


async def test_tag_options_come_from_the_forms_file(tmp_path: Path) -> None:
    custom = forms_with_other_tags(tmp_path)
    async with BotHarness(tmp_path, forms={"path": str(custom)}) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        r = await bot.send("wanglei", "个性标签 杭州市第一人民医院")
        assert "1. 谨慎保守型" in r[-1] and "怕担责型" not in r[-1]
        await bot.send("wanglei", "谨慎保守型")
        await bot.send("wanglei", "每次都要求书面承诺")
        await bot.send("wanglei", "跳过")
        assert [t.tag for t in await rows(bot, PersonalityTag)] == ["谨慎保守型"]
