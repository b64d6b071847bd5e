"""Unknown senders → admin approval in chat, end to end through the console harness."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.testing import BotHarness
from storage.models import AuditLog, PendingSender, User


async def _org(bot: BotHarness) -> None:
    await bot.add_user("boss", "周敏", roles=("admin",), team="总部")
    await bot.add_user("liqiang", "李强", roles=("manager",), team="杭州一组")
    await bot.add_user("wugang", "吴刚", roles=("manager",), team="杭州二组")
    await bot.add_user("wanglei", "王磊", roles=("rep",), supervisor="liqiang", team="杭州一组")


async def test_stranger_is_approved_with_role_and_supervisor_and_then_served(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        bot.console.names["sunyue"] = "孙悦"
        first = await bot.send("sunyue", "你好，我是新来的销售孙悦")
        assert "已通知管理员" in first[0]
        notice = [t for t in bot.texts_to("boss") if "新用户请求使用" in t]
        assert len(notice) == 1 and "批准 孙悦 销售 <主管姓名>" in notice[0]

        replies = await bot.send("boss", "批准 孙悦 销售 李强")
        assert replies == ["已开通：孙悦（#5，杭州一组，销售）；主管：李强。已通知本人。"]
        welcome = bot.texts_to("sunyue")[-1]
        assert "管理员已为您开通 ActionFlow（角色：销售；主管：李强）" in welcome

        served = await bot.send("sunyue", "帮助")
        assert "我能帮你做这些" in served[0]
        assert "人员列表" not in served[0]  # a rep does not see admin commands
        newcomer = await bot.user("sunyue")
        assert newcomer.roles == {"rep"} and newcomer.team == "杭州一组"
        assert newcomer.supervisor_id == (await bot.user("liqiang")).id
        async with bot.session() as s:
            pending = (await s.execute(select(PendingSender))).scalar_one()
            assert pending.status == "approved" and pending.user_id == newcomer.id
            audit = (await s.execute(select(AuditLog).where(AuditLog.action == "user.approve"))).scalar_one()
            assert audit.actor_id == (await bot.user("boss")).id and audit.after is not None
            assert audit.after["console_id"] == "sunyue"
        assert "已经批准过了" in (await bot.send("boss", "批准 孙悦 销售"))[0]


async def test_approval_without_roles_asks_with_cards(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        await bot.send("newbie", "在吗")
        replies = await bot.send("boss", "批准 newbie")
        assert "为 newbie（控制台：newbie）开通 ActionFlow" in replies[0]
        roles_card = bot.last_choice("boss")
        assert roles_card is not None and roles_card.multi and "经理" in roles_card.options
        await bot.click("boss", "1", "2")  # 销售 + 经理
        card = bot.last_choice("boss")
        assert card is not None and card.options == ["李强（杭州一组）", "吴刚（杭州二组）"]
        replies = await bot.send("boss", "9")
        assert "“9”不是可选项" in replies[0]
        replies = await bot.click("boss", "2")
        assert "已开通：newbie（#5，杭州二组，销售、经理）；主管：吴刚" in replies[-1]
        user = await bot.user("newbie")
        assert user.roles == {"rep", "manager"} and user.supervisor_id == (await bot.user("wugang")).id
        assert "我能帮你做这些" in (await bot.send("newbie", "帮助"))[0]


async def test_the_one_line_approval_works_while_the_approval_form_is_open(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        await bot.send("newbie", "在吗")
        await bot.send("boss", "批准 newbie")
        assert bot.last_choice("boss") is not None  # the form asks for the roles
        replies = await bot.send("boss", "批准 newbie 销售 李强")
        assert any("已开通：newbie" in r and "主管：李强" in r for r in replies), replies
        assert "开通表单已关闭" in replies[-1]
        user = await bot.user("newbie")
        assert user.roles == {"rep"}
        assert (await bot.send("boss", "继续"))[-1] == "没有可以继续的表单。"


async def test_reject_tells_the_stranger_politely(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        await bot.send("spam", "推广信息")
        assert "拒绝" in (await bot.send("boss", "待审核"))[0]
        replies = await bot.send("boss", "拒绝 spam")
        assert replies == ["已拒绝 spam（控制台：spam）的申请，并已礼貌告知对方。"]
        assert "未被批准" in bot.texts_to("spam")[-1]
        assert "未被批准" in (await bot.send("spam", "为什么"))[0]
        assert "目前没有待审核的申请" in (await bot.send("boss", "待审核"))[0]
        async with bot.session() as s:
            assert (await s.execute(select(PendingSender.status))).scalar_one() == "rejected"
            assert (await s.execute(select(User).where(User.console_id == "spam"))).first() is None


async def test_ambiguous_names_ask_and_same_name_colleagues_can_be_linked(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await _org(bot)
        for handle in ("zhang1", "zhang2"):
            bot.console.names[handle] = "张伟"
            await bot.send(handle, "你好")
        replies = await bot.send("boss", "批准 张伟 销售")
        assert "有 2 个“张伟”的申请" in replies[0] and "console:zhang1" in replies[0]
        replies = await bot.send("boss", "批准 console:zhang2 销售 王磊 李强")
        assert "只能写一位主管" in replies[0]
        replies = await bot.send("boss", "批准 console:zhang2 销售 李强")
        assert "已开通：张伟" in replies[0]

        # 赵敏 was imported with her WeCom id only; now she writes on another platform.
        async with bot.session() as s:
            zhao = User(
                name="赵敏",
                wecom_userid="ZhaoMin",
                team="财务部",
                created_at=bot.clock.now(),
                updated_at=bot.clock.now(),
            )
            zhao.role_rows = []
            s.add(zhao)
        bot.console.names["zm"] = "赵敏"
        await bot.send("zm", "我是赵敏")
        replies = await bot.send("boss", "批准 zm 财务")
        assert "已有同名的同事：赵敏（#6，财务部，无角色）" in replies[0] and "批准 zm 关联 #6" in replies[0]
        replies = await bot.send("boss", "批准 zm 关联 #6 财务")
        assert replies[0].startswith("已关联：赵敏（#6，财务部，财务）")
        async with bot.session() as s:
            linked = (await s.execute(select(User).where(User.name == "赵敏"))).scalar_one()
            assert (linked.console_id, linked.wecom_userid) == ("zm", "ZhaoMin")
        assert "我能帮你做这些" in (await bot.send("zm", "帮助"))[0]
        bot.console.names["lilei"] = "Li Lei"
        await bot.send("lilei", "hello")
        assert "已开通：Li Lei" in (await bot.send("boss", "批准 Li Lei 销售 李强"))[0]
        replies = await bot.send("boss", "批准 不存在的人")
        assert "没有找到“不存在的人”的待审核申请" in replies[0]
