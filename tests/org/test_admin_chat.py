"""Admin commands in chat: refusals for everyone else, roles, supervisors, deactivation, group targets."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.testing import BotHarness
from core.messages import Text
from storage.models import AuditLog, Customer, GroupTarget


async def _org(bot: BotHarness) -> None:
    await bot.add_user("boss", "周敏", roles=("admin",), team="总部")
    await bot.add_user("liqiang", "李强", roles=("manager",), team="杭州一组")
    await bot.add_user("wanglei", "王磊", roles=("rep",), supervisor="liqiang", team="杭州一组")
    await bot.add_user("zhangting", "张婷", roles=("rep",), supervisor="liqiang", team="杭州一组")
    await bot.add_user("liuyang", "刘洋", roles=("rep",), supervisor="liqiang", team="杭州一组")
    await bot.add_user("wugang", "吴刚", roles=("rep",), team="杭州二组")


async def _customers(bot: BotHarness, owner: str, *names: str) -> None:
    rep = await bot.user(owner)
    now = bot.clock.now()
    async with bot.session() as s:
        for name in names:
            s.add(Customer(name=name, normalized_name=name, owner_id=rep.id, created_at=now, updated_at=now))


async def test_everyone_but_admins_is_refused_politely(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        await bot.send("stranger", "你好")
        for who in ("wanglei", "liqiang"):
            for command in (
                "人员列表",
                "批准 stranger 销售",
                "停用 张婷",
                "设置角色 王磊 管理员",
                "设置群 x 控制台 y",
            ):
                replies = await bot.send(who, command)
                assert (
                    len(replies) == 1 and replies[0].startswith("抱歉，「") and "只对管理员开放" in replies[0]
                )
        assert (await bot.user("zhangting")).status == "active"
        assert (await bot.user("wanglei")).roles == {"rep"}
        help_text = (await bot.send("boss", "帮助"))[0]
        assert "【管理】" in help_text and "人员列表" in help_text


async def test_list_people_and_set_role_supervisor_team(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        listing = (await bot.send("boss", "人员列表"))[0]
        assert "在职 6 人" in listing and "【杭州一组】" in listing
        assert "· 王磊 #3 — 销售，主管 李强" in listing
        team = (await bot.send("boss", "人员列表 杭州二组"))[0]
        assert "吴刚" in team and "王磊" not in team
        assert "没有团队“火星组”" in (await bot.send("boss", "人员列表 火星组"))[0]

        assert "不认识的角色：老板" in (await bot.send("boss", "设置角色 王磊 老板"))[0]
        assert (await bot.send("boss", "设置角色 吴刚 销售 经理"))[0] == "已把 吴刚 的角色设为：销售、经理。"
        assert (await bot.user("wugang")).roles == {"rep", "manager"}
        assert "唯一的管理员" in (await bot.send("boss", "设置角色 周敏 经理"))[0]

        assert (await bot.send("boss", "设置主管 刘洋 吴刚"))[0] == "已把 刘洋 的主管设为 吴刚。"
        assert "刘洋 现在向您汇报" in bot.texts_to("wugang")[-1]
        loop = (await bot.send("boss", "设置主管 李强 王磊"))[0]
        assert "循环的汇报关系：李强 → 王磊 → 李强" in loop
        assert (await bot.user("liqiang")).supervisor_id is None
        assert "没有找到同事“老王”" in (await bot.send("boss", "设置主管 老王 李强"))[0]
        assert (await bot.send("boss", "设置主管 刘洋 无"))[0] == "已把 刘洋 的主管设为 （无）。"
        assert (await bot.send("boss", "设置团队 刘洋 杭州二组"))[0] == "已把 刘洋 调到团队「杭州二组」。"
        async with bot.session() as s:
            actions = list((await s.execute(select(AuditLog.action).order_by(AuditLog.id))).scalars())
        assert actions == [
            "user.set_roles",
            "user.set_supervisor",
            "user.set_supervisor",
            "user.set_team",
        ]


async def test_deactivation_offers_the_customers_to_a_rep_of_the_team(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        await _customers(bot, "wanglei", "杭州市第一人民医院", "浙江省人民医院", "萧山区第一人民医院")
        replies = await bot.send("boss", "停用 王磊")
        assert "已停用 王磊（#3，杭州一组，销售）" in replies[0]
        assert "王磊 名下有 3 家客户：杭州市第一人民医院、浙江省人民医院、萧山区第一人民医院" in replies[0]
        card = bot.last_choice("boss")
        assert card is not None and card.options == ["张婷（杭州一组）", "刘洋（杭州一组）"]
        assert "已停用" in (await bot.send("wanglei", "帮助"))[0]  # at once, not after the reassignment
        assert "周敏 不是销售，请另选一位" in (await bot.send("boss", "周敏"))[0]
        # Inside the question, 人员列表 cannot be sent: the hint says what to answer instead.
        assert (await bot.send("boss", "老王"))[0] == ("没有找到同事“老王”。请回复上面的编号或同事的姓名。")
        replies = await bot.click("boss", "1")
        assert "已把 3 家客户从 王磊 转给 张婷" in replies[-1]
        assert "王磊 的 3 家客户转给了您" in bot.texts_to("zhangting")[-1]
        zhang = await bot.user("zhangting")
        wang = await bot.user("wanglei")
        boss = await bot.user("boss")
        async with bot.session() as s:
            owners = set((await s.execute(select(Customer.owner_id))).scalars())
            assert owners == {zhang.id}
            moves = list(
                (await s.execute(select(AuditLog).where(AuditLog.action == "customer.reassign"))).scalars()
            )
            assert len(moves) == 3
            assert all(m.before == {"owner_id": wang.id, "owner": "王磊"} for m in moves)
            assert all(m.after == {"owner_id": zhang.id, "owner": "张婷"} for m in moves)
            assert {m.actor_id for m in moves} == {boss.id}
        assert "启用" in (await bot.send("boss", "启用 王磊"))[0]
        assert "我能帮你做这些" in (await bot.send("wanglei", "帮助"))[0]


async def test_reassignment_by_typed_answer_or_later_by_command(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        await _customers(bot, "zhangting", "余杭区人民医院", "富阳区人民医院")
        await bot.send("boss", "停用 张婷")
        replies = await bot.send("boss", "跳过")
        assert "客户暂时保留在 张婷 名下" in replies[-1]
        assert "不能停用自己" in (await bot.send("boss", "停用 周敏"))[0]
        replies = await bot.send("boss", "转移客户 张婷 吴刚")
        assert replies == ["已把 2 家客户从 张婷 转给 吴刚：余杭区人民医院、富阳区人民医院。"]
        await bot.send("boss", "停用 吴刚")
        assert "刘洋" in bot.last_choice("boss").options[1]  # type: ignore[union-attr]
        replies = await bot.send("boss", "2")  # typed, as on a platform without cards
        assert "已把 2 家客户从 吴刚 转给 刘洋" in replies[-1]
        assert "吴刚（#6）目前是停用状态" in (await bot.send("boss", "转移客户 刘洋 吴刚"))[0]


async def test_group_targets_are_set_listed_and_alerts_routed_by_name(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        replies = await bot.send("boss", "设置群 managers 控制台 经理群")
        assert replies[0].startswith("已设置群「managers」：控制台「经理群」。")
        assert "这个群会收到：早报、超时未跟进和僵尸客户提醒、逾期未完成的表单。" in replies[0]
        assert "本群已设为「managers」" in bot.group_texts("managers")[-1]
        replies = await bot.send(
            "boss", "设置群 finance 企业微信 https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcd-1234"
        )
        assert "企业微信 群机器人（…1234）" in replies[0] and "企业微信渠道当前没有启用" in replies[0]
        assert (
            "Webhook 地址里没有 access_token"
            in (await bot.send("boss", "设置群 x 钉钉 https://oapi.dingtalk.com/robot/send"))[0]
        )
        assert "不认识的渠道“飞书”" in (await bot.send("boss", "设置群 x 飞书 abc"))[0]
        listing = (await bot.send("boss", "群列表"))[0]
        assert "· finance — 企业微信 群机器人（…1234）" in listing and "abcd" not in listing
        assert "· managers — 控制台「经理群」" in listing and "控制台 控制台" not in listing
        assert "· 早报、超时未跟进和僵尸客户提醒、逾期未完成的表单 → managers（已设置）" in listing
        assert "· 需求主题预警 → product（未设置" in listing
        assert "目前没有提醒发往「x」" in (await bot.send("boss", "设置群 x 控制台 随便"))[-1]
        async with bot.session() as s:
            row = await s.get(GroupTarget, "finance")
            assert row is not None and (row.channel, row.kind, row.address) == ("wecom", "robot", "abcd-1234")
            sent = await bot.app.services.notifier.to_group(
                s, now=bot.clock.now(), group="managers", message=Text(text="测试提醒"), key="t1"
            )
            assert sent
        await bot.settle()
        assert bot.group_texts("managers")[-1] == "测试提醒"
        assert (await bot.send("boss", "删除群 finance"))[0] == "已删除群「finance」。"
        assert "没有在聊天中设置过群「finance」" in (await bot.send("boss", "删除群 finance"))[0]
