"""Key persons kept current: 更新关键人 (contact date, title, phone, replaced, left), adding someone again
updates them, and the stale-contact reminder says what the rep can do."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.testing import BotHarness
from storage.models import AuditLog, Customer, KeyPerson
from tests.flows.kit import add_customer, one, org, rows


async def _people(bot: BotHarness, cid: int) -> dict[str, KeyPerson]:
    return {p.name: p for p in await rows(bot, KeyPerson, KeyPerson.customer_id == cid)}


async def test_update_contact_title_phone_replaced_and_left(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url, jobs=False) as bot:
        await org(bot)
        cid = await add_customer(bot, "富阳区人民医院", "zhangting")
        today = bot.clock.now().astimezone(bot.app.services.tz).date()
        r = await bot.send("zhangting", "客户 富阳区人民医院")
        assert "孙丽（设备科科长） ⚠️ 已 75 天未联系" in r[-1] and "更新关键人 富阳区人民医院 孙丽" in r[-1]

        r = await bot.send("zhangting", "更新关键人 富阳区人民医院 王小明")
        assert r[-1] == "没有找到关键人「王小明」。「富阳区人民医院」的关键人：刘建国、孙丽。"
        r = await bot.send("zhangting", "更新关键人 富阳区人民医院 孙丽")
        assert "要更新什么？" in r[-1]
        r = await bot.send("zhangting", "今天联系过")
        assert r[-1] == "已记录今天和 孙丽 沟通过。"
        assert (await _people(bot, cid))["孙丽"].last_contact_on == today

        await bot.send("zhangting", "更新关键人 富阳区人民医院 孙丽")
        await bot.send("zhangting", "改电话")
        r = await bot.send("zhangting", "13800001111")
        assert r[-1] == "孙丽 的电话已更新。"
        await bot.send("zhangting", "更新关键人 富阳区人民医院 刘建国")
        await bot.send("zhangting", "已换人")
        await bot.send("zhangting", "周涛")
        r = await bot.send("zhangting", "采购科科长")
        assert r[-1] == "已记录 刘建国 由 周涛 接任。记得尽快和 周涛 建立联系。"
        people = await _people(bot, cid)
        assert people["孙丽"].phone == "13800001111"
        assert people["刘建国"].status == "replaced" and people["刘建国"].replaced_by_id == people["周涛"].id
        assert (people["周涛"].role_group, people["周涛"].title) == ("采购科", "采购科科长")
        r = await bot.send("zhangting", "客户 富阳区人民医院")
        chain = r[-1].split("决策链：")[1].split("客户个性标签")[0]
        assert "周涛（采购科科长）" in chain and "刘建国" not in chain

        await bot.send("zhangting", "更新关键人 富阳区人民医院 孙丽")
        r = await bot.send("zhangting", "已离职")
        assert (
            r[-1].startswith("已记录 孙丽 离职，决策链不再显示。\n") and "决策链至少需要 2 位关键人" in r[-1]
        )
        customer = await one(bot, Customer, Customer.id == cid)
        assert customer.profile_complete is False
        assert (await _people(bot, cid))["孙丽"].status == "left"
        actions = [a.action for a in await rows(bot, AuditLog)]
        assert actions.count("key_person.update") == 4 and "key_person.add" in actions


async def test_adding_the_same_person_again_updates_instead_of_duplicating(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, jobs=False) as bot:
        await org(bot)
        cid = await add_customer(bot, "富阳区人民医院", "zhangting")
        await bot.send("zhangting", "添加关键人 富阳区人民医院")
        await bot.send("zhangting", "设备科")
        await bot.send("zhangting", "孙丽")
        await bot.send("zhangting", "设备处处长")
        r = await bot.send("zhangting", "今天")
        assert "「富阳区人民医院」已有关键人 孙丽，已更新其信息，没有重复添加（决策链 2 人）" in r[-1]
        people = await rows(bot, KeyPerson, KeyPerson.customer_id == cid)
        assert len(people) == 2
        sun = next(p for p in people if p.name == "孙丽")
        assert sun.title == "设备处处长"
        assert sun.last_contact_on == bot.clock.now().astimezone(bot.app.services.tz).date()


async def test_key_person_reminder_names_the_command(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "富阳区人民医院", "zhangting")
        await bot.advance(timedelta(days=1))
        texts = [t for t in bot.texts_to("zhangting") if "关键人提醒" in t or "决策链关键人" in t]
        assert texts, bot.texts_to("zhangting")
        assert "请回复「更新关键人 <客户> <姓名>」" in texts[-1]
        assert "例如「更新关键人 富阳区人民医院 孙丽」" in texts[-1]
