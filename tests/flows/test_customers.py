"""新建客户 end to end: the decision chain, near-duplicate confirmation, incomplete profiles, 添加关键人."""

from __future__ import annotations

from pathlib import Path

from bot.testing import BotHarness
from storage.models import AuditLog, Customer, KeyPerson, ProgressUpdate
from tests.flows.kit import add_customer, one, org, rows


async def fill_customer(bot: BotHarness, name: str, persons: int = 2) -> list[str]:
    r = await bot.send("wanglei", "新建客户")
    assert "客户名称" in r[-1]
    r = await bot.send("wanglei", name)
    if "客户名称" in r[-1]:  # refused: the name is asked again
        return r
    await bot.send("wanglei", "三甲医院")
    await bot.send("wanglei", "A")
    await bot.send("wanglei", "杭州市西湖区")
    people = [("1", "刘建国", "采购科主任", "2026-11-20"), ("临床科室", "吴海涛", "骨科主任", "3天前")]
    for i, (role, person, title, day) in enumerate(people[:persons]):
        if i:
            r = await bot.send("wanglei", "是")
        await bot.send("wanglei", role)
        await bot.send("wanglei", person)
        await bot.send("wanglei", title)
        r = await bot.send("wanglei", day)
    return await bot.send("wanglei", "否")


async def test_new_customer_with_decision_chain(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        r = await fill_customer(bot, "浙江省人民医院")
        assert any("已建立客户档案「浙江省人民医院」（决策链 2 人）" in x for x in r), r
        assert not any("不完整" in x for x in r)
        wanglei = await bot.user("wanglei")
        customer = await one(bot, Customer)
        assert customer.owner_id == wanglei.id and customer.profile_complete
        assert (customer.kind, customer.grade, customer.region) == ("三甲医院", "A（重点）", "杭州市西湖区")
        assert customer.lead_created_at == bot.clock.now() and customer.last_update_at == bot.clock.now()
        people = await rows(bot, KeyPerson)
        assert [(p.role_group, p.name, p.title, str(p.last_contact_on)) for p in people] == [
            ("采购科", "刘建国", "采购科主任", "2026-11-20"),
            ("临床科室", "吴海涛", "骨科主任", "2026-11-20"),
        ]
        update = await one(bot, ProgressUpdate)
        assert update.kind == "profile" and update.valid
        audit = await rows(bot, AuditLog)
        assert [a.action for a in audit] == ["customer.create", "key_person.add", "key_person.add"]
        assert all(a.actor_id == wanglei.id and a.source_event.startswith("console:") for a in audit)
        assert audit[0].after is not None and audit[0].after["name"] == "浙江省人民医院"


async def test_near_duplicate_asks_to_confirm(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "zhangting")
        await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "杭州一院")
        assert "和已有客户很像" in r[0]
        assert "杭州市第一人民医院（负责人 张婷）" in r[-1] and "「杭州一院」是另一家新客户吗？" in r[-1]
        r = await bot.send("wanglei", "2")
        assert "不重复建档" in r[0] and "客户名称" in r[-1]
        r = await bot.send("wanglei", "取消")
        assert "已暂停「新建客户」" in r[-1]
        assert len(await rows(bot, Customer)) == 1
        # Confirmed as a different place: it is created.
        await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "杭州一院")
        r = await bot.click("wanglei", "1")
        assert "好的，新建「杭州一院」" in r[0] and "客户类型" in r[-1]
        # A different ordinal is a different hospital: no question.
        await bot.send("wanglei", "取消")
        await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "杭州市第三人民医院")
        assert "客户类型" in r[-1]
        # A customer added meanwhile elsewhere (another rep, an import) is a twin as well.
        await bot.send("wanglei", "取消")
        await add_customer(bot, "余杭区第五人民医院", "zhangting")
        await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "余杭五院")
        assert "余杭区第五人民医院（负责人 张婷）" in r[-1]


async def test_exact_twin_is_refused_even_when_owned_by_someone_else(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市中医院", "sunyue")
        await bot.send("wanglei", "新建客户")
        r = await bot.send("wanglei", "杭州市 中医院")
        # 孙悦 is in another team: that the customer exists, not who owns it.
        assert "已有同名客户（其他团队），不能重复建档" in r[0] and "孙悦" not in r[0]
        assert "请联系主管共享给你或转给你" in r[0]
        await add_customer(bot, "杭州市肿瘤医院", "zhangting")  # a teammate's customer names its owner
        r = await bot.send("wanglei", "杭州市肿瘤医院")
        assert "已有客户「杭州市肿瘤医院」（负责人 张婷），不能重复建档" in r[0]


async def test_fewer_than_two_key_persons_is_incomplete_and_rep_is_reminded(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        r = await fill_customer(bot, "桐庐县人民医院", persons=1)
        assert any("决策链 1 人" in x for x in r)
        assert any("至少需要 2 位关键人，目前 1 位" in x and "添加关键人 桐庐县人民医院" in x for x in r)
        customer = await one(bot, Customer)
        assert not customer.profile_complete
        r = await bot.send("wanglei", "客户 桐庐县")
        assert "档案不完整：决策链还缺 1 位关键人" in r[-1]
        r = await bot.send("wanglei", "添加关键人 桐庐县人民医院")
        assert "所属角色组" in r[-1]  # the customer was prefilled
        await bot.send("wanglei", "设备科")
        await bot.send("wanglei", "孙丽")
        await bot.send("wanglei", "设备科科长")
        r = await bot.send("wanglei", "昨天")
        assert "已为「桐庐县人民医院」添加关键人 孙丽（决策链 2 人，档案已完整）" in r[-1]
        customer = await one(bot, Customer)
        assert customer.profile_complete
        actions = [a.action for a in await rows(bot, AuditLog)]
        assert actions[-2:] == ["key_person.add", "customer.update"]


async def test_lookup_shows_the_profile(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(
            bot,
            "杭州市第一人民医院",
            "wanglei",
            preferences="需提供3家同类医院使用案例",
            updates=[("确定预算范围", "预算 80 万", 30)],
        )
        r = await bot.send("wanglei", "客户 杭州一院")
        text = r[-1]
        assert text.startswith("【客户档案】杭州市第一人民医院")
        assert "负责人 王磊" in text
        assert "采购科 刘建国（采购科主任） 最近沟通 11-13（10 天前）" in text
        assert "设备科 孙丽（设备科科长） ⚠️ 已 75 天未联系" in text
        assert "决策者偏好：需提供3家同类医院使用案例" in text
        assert "王磊 拜访：确定预算范围（预算 80 万）" in text
        r = await bot.send("wanglei", "客户 不存在的医院")
        assert "没有找到你可以查看的客户" in r[-1]
        r = await bot.send("wanglei", "客户")
        assert "用法：客户 <名称>" in r[-1]
        r = await bot.send("wanglei", "帮助")
        for command in ("新建客户", "客户", "客户个性标签", "拜访完成", "试用反馈", "添加关键人", "竞对分析"):
            assert f"· {command} " in r[-1], command
        assert "· 审核 " not in r[-1] and "【主管】" not in r[-1]  # only managers review
        r = await bot.send("liqiang", "帮助")
        assert "· 审核 " in r[-1] and "· 批注 " in r[-1]


async def test_a_command_argument_that_names_no_customer_is_explained(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "绍兴第九门诊部", "zhangting")
        for command in ("试用反馈", "客户个性标签", "添加关键人"):
            # Another rep's customer is not hers to see: she is told, then asked which customer.
            r = await bot.send("wanglei", f"{command} 绍兴第九门诊部")
            assert r[0] == "没有找到你可以查看的客户“绍兴第九门诊部”。", (command, r)
            assert "哪家客户" in r[-1]
            await bot.send("wanglei", "取消")
            r = await bot.send("wanglei", f"{command} 杭州一院")  # one that names her customer is taken
            assert not any("没有找到" in x for x in r) and "哪家客户" not in r[-1], (command, r)
            await bot.send("wanglei", "取消")


async def test_lookup_works_inside_a_form_with_its_own_name(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.send("wanglei", "客户个性标签")
        r = await bot.send("wanglei", "查客户 杭州一院")
        assert r[0].startswith("【客户档案】杭州市第一人民医院") and "哪家客户" in r[-1]
