"""Competitor analysis: triggered by the rep's answer or by the customer's words; the supervisor
approves or comments by card or by text; the rep hears the outcome; deadlines are kept."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.testing import BotHarness
from bot.web.board.render import REVIEW_STATUS
from handlers.competitor import STATUS, status_label
from speech.ledger import QuoteLedger, verify_chain
from storage.models import (
    AuditLog,
    CompetitorAnalysis,
    ConversationState,
    Deadline,
    Demand,
    Quote,
    ReviewStatus,
)
from tests.flows.kit import (
    ScriptedTranscriber,
    add_customer,
    one,
    org,
    rows,
    scripted_note,
    visit_fields,
)


async def report_until_vendors(bot: BotHarness, tmp_path: Path, comparing: str) -> list[str]:
    await add_customer(bot, "杭州市第一人民医院", "wanglei")
    await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
    await bot.advance(timedelta(hours=2))
    from PIL import Image

    Image.new("RGB", (64, 48), (10, 10, 10)).save(tmp_path / "p.jpg")
    await bot.photo("wanglei", tmp_path / "p.jpg")
    await bot.send("wanglei", "1")
    await bot.send("wanglei", "无")  # no key person met
    return await bot.send("wanglei", comparing)


async def fill_competitor(bot: BotHarness) -> list[str]:
    await bot.send("wanglei", "美敦力")
    await bot.send("wanglei", "便宜 15%")
    await bot.send("wanglei", "4 周")
    return await bot.send("wanglei", "本地没有售后工程师，报修要等一周")


async def test_rep_says_comparing_and_supervisor_approves_by_card(tmp_path: Path) -> None:
    transcriber = ScriptedTranscriber()
    async with BotHarness(tmp_path, transcriber=transcriber, quotes=QuoteLedger()) as bot:
        await org(bot)
        r = await report_until_vendors(bot, tmp_path, "是")
        assert "需求确认单" in r[-2] or "需求确认单" in "\n".join(r)
        draft = await one(bot, CompetitorAnalysis)
        assert (draft.status, draft.trigger) == ("draft", "rep")
        due = await one(bot, Deadline, Deadline.kind == "competitor_analysis")
        assert due.entity_type == "competitor_analysis" and due.due_at == bot.clock.now() + timedelta(
            hours=24
        )
        # The demand confirmation comes first, then the competitor form.
        await bot.voice("wanglei", scripted_note(tmp_path, transcriber, "c1", "价格还要再谈"))
        await bot.send("wanglei", "1")
        r = await bot.send("wanglei", "无")
        assert "竞对分析" in "\n".join(r) and "竞争对手是哪家" in r[-1]
        r = await fill_competitor(bot)
        row = await one(bot, CompetitorAnalysis)
        assert f"竞对分析 #{row.id} 已提交，等待主管 李强 审核" in r[-1]
        assert (row.status, row.competitor, row.price, row.delivery_cycle) == (
            "pending_review",
            "美敦力",
            "便宜 15%",
            "4 周",
        )
        card = bot.last_choice("liqiang")
        assert card is not None and card.token == f"review:{row.id}" and card.options == ["通过", "批注"]
        assert card.prompt == f"审核竞对分析 #{row.id}" and card.note == "王磊 · 杭州市第一人民医院 · 美敦力"
        details = bot.texts_to("liqiang")[-2]
        assert "本地没有售后工程师" in details and f"回复「审核 {row.id} 通过」" in details
        review_due = await one(bot, Deadline, Deadline.kind == "competitor_review")
        liqiang = await bot.user("liqiang")
        assert review_due.user_id == liqiang.id and review_due.due_at == bot.clock.now() + timedelta(hours=24)
        assert (await one(bot, Deadline, Deadline.kind == "competitor_analysis")).on_time is True

        # 张婷 is not his supervisor: a forged click on the card is refused.
        bot.console.last_choice["zhangting"] = card
        r = await bot.click("zhangting", "1")
        assert "只有这位销售的主管可以审核" in r[-1]

        await bot.click("liqiang", "1")
        assert f"已通过竞对分析 #{row.id}" in bot.texts_to("liqiang")[-1]
        assert (
            bot.texts_to("wanglei")[-1] == f"主管 李强 已通过你对「杭州市第一人民医院」的竞对分析 #{row.id}。"
        )
        row = await one(bot, CompetitorAnalysis)
        assert (row.status, row.reviewer_id) == ("approved", liqiang.id)
        review_due = await one(bot, Deadline, Deadline.kind == "competitor_review")
        assert (review_due.status, review_due.on_time) == ("done", True)
        r = await bot.send("liqiang", f"审核 {row.id} 通过")
        assert "已经审核通过了" in r[-1]
        actions = [a.action for a in await rows(bot, AuditLog) if a.entity_type == "competitor_analysis"]
        assert actions == ["competitor.trigger", "competitor.submit", "competitor.approve"]


async def test_quote_keywords_trigger_and_supervisor_comments_by_text(tmp_path: Path, db_url: str) -> None:
    transcriber = ScriptedTranscriber()
    async with BotHarness(tmp_path, db_url=db_url, transcriber=transcriber, quotes=QuoteLedger()) as bot:
        await org(bot)
        r = await report_until_vendors(bot, tmp_path, "否")
        assert await rows(bot, CompetitorAnalysis) == []
        words = "你们的方案不错，不过我们还要再比较几家，别的品牌报价更低"
        await bot.voice("wanglei", scripted_note(tmp_path, transcriber, "c2", words))
        await bot.send("wanglei", "采购成本高")
        r = await bot.send("wanglei", "无")
        assert any("客户原话提到「再比较」，请补充竞对分析（24 小时内）" in x for x in r)
        assert "竞争对手是哪家" in r[-1]
        row = await one(bot, CompetitorAnalysis)
        assert (row.trigger, row.trigger_text) == ("quote", words)
        await fill_competitor(bot)
        assert f"触发原话：“{words}”" in bot.texts_to("liqiang")[-2]

        r = await bot.send("zhangting", f"批注 {row.id} 不行")
        assert "只对管理员、经理开放" in r[-1]
        r = await bot.send("liqiang", "审核")
        assert "待你审核的竞对分析（1 份）" in r[-1]
        assert f"#{row.id} 王磊 · 杭州市第一人民医院：美敦力" in r[-1]
        r = await bot.send("liqiang", f"审核 {row.id}")
        assert "竞争对手：美敦力" in r[-1] and "状态：待审核" in r[-1]
        await bot.advance(timedelta(hours=30))  # the supervisor answers late
        r = await bot.send("liqiang", f"批注 {row.id} 请补充对方的售后条款和违约责任")
        assert f"已批注竞对分析 #{row.id}" in r[-1]
        assert bot.texts_to("wanglei")[-1] == (
            f"主管 李强 批注了你对「杭州市第一人民医院」的竞对分析 #{row.id}：请补充对方的售后条款和违约责任"
        )
        row = await one(bot, CompetitorAnalysis)
        assert (row.status, row.review_comment) == ("commented", "请补充对方的售后条款和违约责任")
        assert (await bot.send("liqiang", "审核"))[-1] == "目前没有待你审核的竞对分析。"
        review_due = await one(bot, Deadline, Deadline.kind == "competitor_review")
        assert (review_due.status, review_due.on_time) == ("done", False)
        # The brief of the next visit shows the competitor note with the comment.
        r = await bot.approval("wanglei", "AP-2", "submitted", {"customer": "杭州市第一人民医院"})
        assert (
            "美敦力：报价 便宜 15%；交付 4 周；短板 本地没有售后工程师，报修要等一周（主管已批注：请补充"
            in r[-1]
        )


async def test_comment_through_the_card_asks_for_the_text(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "浙江省人民医院", "wanglei")
        r = await bot.send("wanglei", "竞对分析 浙江省人民医院")
        assert "竞争对手是哪家" in r[-1]
        await fill_competitor(bot)
        row = await one(bot, CompetitorAnalysis)
        r = await bot.click("liqiang", "批注")
        assert "请输入你对这份竞对分析的批注" in r[-1]
        r = await bot.send("liqiang", "好")
        assert "至少需要 2 个字" in r[0]
        await bot.send("liqiang", f"批注 {row.id} 价格不是重点，强调交付")  # the whole command, retyped
        assert bot.texts_to("wanglei")[-1].endswith(f"的竞对分析 #{row.id}：价格不是重点，强调交付")
        assert (await one(bot, CompetitorAnalysis)).status == "commented"
        assert row.visit_id is None


async def test_rep_without_supervisor_is_told(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await bot.add_user("loner", "单飞")
        await add_customer(bot, "浙江省人民医院", "loner")
        await bot.send("loner", "竞对分析 浙江省人民医院")
        await bot.send("loner", "美敦力")
        await bot.send("loner", "便宜 15%")
        await bot.send("loner", "4 周")
        r = await bot.send("loner", "售后差")
        assert "你还没有设置主管" in r[-1]
        assert (await one(bot, CompetitorAnalysis)).status == "pending_review"


async def test_supervisor_answers_the_review_card_by_typing_its_number(tmp_path: Path) -> None:
    """Where a card cannot be clicked, its 「回复 1–2」 fallback works: "1" approves."""
    transcriber = ScriptedTranscriber()
    async with BotHarness(tmp_path, transcriber=transcriber, quotes=QuoteLedger()) as bot:
        await org(bot)
        await report_until_vendors(bot, tmp_path, "是")
        await bot.voice("wanglei", scripted_note(tmp_path, transcriber, "c1", "价格还要再谈"))
        await bot.send("wanglei", "1")
        await bot.send("wanglei", "无")
        await fill_competitor(bot)
        row = await one(bot, CompetitorAnalysis)
        assert "回复 1–2" in bot.texts_to("liqiang")[-1]
        r = await bot.send("liqiang", "1")
        assert f"已通过竞对分析 #{row.id}" in r[-1]
        assert (await one(bot, CompetitorAnalysis)).status == "approved"
        r = await bot.send("liqiang", "1")  # the card is answered: a second "1" is not a new approval
        assert "已经审核通过了" in r[-1]


async def test_a_number_with_no_card_waiting_is_not_taken_for_an_answer(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        r = await bot.send("liqiang", "1")
        assert "没听懂" in r[-1]


async def test_a_bare_number_with_two_review_cards_open_asks_which(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        for name in ("杭州市第一人民医院", "浙江省人民医院"):
            await add_customer(bot, name, "wanglei")
            r = await bot.send("wanglei", f"竞对分析 {name}")
            assert "竞争对手是哪家" in r[-1], r
            r = await fill_competitor(bot)
            assert "已提交，等待主管 李强 审核" in r[-1]
        r = await bot.send("liqiang", "1")
        assert "最近有 2 张卡片在等你回复" in r[-1] and "审核竞对分析 #" in r[-1]
        assert [row.status for row in await rows(bot, CompetitorAnalysis)] == ["pending_review"] * 2
        first, second = await rows(bot, CompetitorAnalysis)
        r = await bot.send("liqiang", f"审核 {second.id} 通过")
        assert f"已通过竞对分析 #{second.id}" in r[-1]
        assert (
            await one(bot, CompetitorAnalysis, CompetitorAnalysis.id == first.id)
        ).status == "pending_review"


async def test_a_bare_number_answers_the_one_open_review_card(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.send("wanglei", "竞对分析 杭州市第一人民医院")
        await fill_competitor(bot)
        r = await bot.send("liqiang", "1")
        row = await one(bot, CompetitorAnalysis)
        assert f"已通过竞对分析 #{row.id}" in r[-1] and row.status == "approved"


async def test_a_given_up_analysis_ends_its_deadline_and_one_stays_open_per_customer(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.send("wanglei", "竞对分析 杭州市第一人民医院")
        await bot.send("wanglei", "美敦力")
        r = await bot.send("wanglei", "取消")
        assert "已暂停「竞对分析」" in r[-1] and "回复「放弃」" in r[-1]
        # A second start for the same customer points at the open one instead of making another.
        r = await bot.send("wanglei", "竞对分析 杭州一院")
        assert "已有一份没填完的竞对分析" in r[-1] and "回复「继续」接着填" in r[-1]
        assert len(await rows(bot, CompetitorAnalysis)) == 1
        r = await bot.send("wanglei", "放弃")
        assert "已放弃「竞对分析」" in r[-1]
        row = await one(bot, CompetitorAnalysis)
        due = await one(bot, Deadline, Deadline.kind == "competitor_analysis")
        assert row.status == "withdrawn" and due.status == "cancelled"
        await bot.advance(timedelta(hours=30))  # past the 24 h deadline: nothing is overdue
        assert not [t for t in bot.texts_to("wanglei") if "竞对分析" in t and "已到期" in t]
        assert (await bot.send("wanglei", "继续"))[-1] == "没有可以继续的表单。"
        actions = [a.action for a in await rows(bot, AuditLog) if a.entity_type == "competitor_analysis"]
        assert actions == ["competitor.trigger", "competitor.withdraw"]
        # Now a new one can be started.
        r = await bot.send("wanglei", "竞对分析 杭州一院")
        assert "竞争对手是哪家" in r[-1] and len(await rows(bot, CompetitorAnalysis)) == 2


async def test_a_command_typed_at_a_free_text_question_is_asked_about_not_saved(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "富阳区人民医院", "wanglei")
        await bot.send("wanglei", "竞对分析 杭州市第一人民医院")
        r = await bot.send("wanglei", "试用反馈 富阳区人民医院")
        assert "像是「试用反馈」命令" in r[-1] and "回复「1」填为答案" in r[-1]
        assert (await one(bot, CompetitorAnalysis)).competitor == ""
        # 2: the form is paused and the command runs.
        r = await bot.send("wanglei", "2")
        assert any("已暂停「竞对分析」" in x for x in r) and "产品编号" in r[-1], r
        await bot.send("wanglei", "放弃")  # the trial feedback was not needed after all
        r = await bot.send("wanglei", "继续")
        assert r[0] == "继续填写「竞对分析」（杭州市第一人民医院）：" and "竞争对手是哪家" in r[-1]
        # A command name glued to other words is an answer, not a command.
        r = await bot.send("wanglei", "试用反馈里的那家，美敦力")
        assert "像是" not in r[-1] and "报价" in r[-1]
        # 1: it was meant as the answer after all.
        r = await bot.send("wanglei", "竞对分析 美敦力")
        assert "像是「竞对分析」命令" in r[-1]
        r = await bot.send("wanglei", "1")
        assert "交付周期" in r[-1], r
        async with bot.session() as s:
            state = (await s.execute(select(ConversationState))).scalars().all()
        answers = next(x.answers for x in state if x.form == "competitor")
        assert answers["competitor"] == "试用反馈里的那家，美敦力" and answers["price"] == "竞对分析 美敦力"


async def test_a_manager_sends_an_analysis_back_and_the_rep_redoes_it(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.send("wanglei", "竞对分析 杭州市第一人民医院")
        await fill_competitor(bot)
        row = await one(bot, CompetitorAnalysis)
        assert "用法：退回" in (await bot.send("liqiang", f"退回 {row.id}"))[-1]
        assert "只对" in (await bot.send("zhangting", f"退回 {row.id} 不行"))[-1]
        r = await bot.send("liqiang", f"退回 {row.id} 请写清报价是否含税")
        assert f"已退回竞对分析 #{row.id}" in r[-1]
        told = [t for t in bot.texts_to("wanglei") if "退回了你对「杭州市第一人民医院」的竞对分析" in t]
        assert len(told) == 1 and "请写清报价是否含税" in told[0] and "上次填写：竞争对手 美敦力" in told[0]
        assert "竞争对手是哪家" in bot.texts_to("wanglei")[-1]
        row = await one(bot, CompetitorAnalysis)
        assert (row.status, row.review_comment) == ("draft", "请写清报价是否含税")
        due = await one(bot, Deadline, Deadline.kind == "competitor_analysis")
        assert due.status == "pending" and due.due_at == bot.clock.now() + timedelta(hours=24)
        # The rep redoes it: the manager is asked to review again, with a new review deadline.
        await bot.send("wanglei", "美敦力")
        await bot.send("wanglei", "便宜 15%（含税）")
        await bot.send("wanglei", "4 周")
        r = await bot.send("wanglei", "本地没有售后工程师")
        assert f"竞对分析 #{row.id} 已提交" in r[-1]
        assert (await one(bot, CompetitorAnalysis)).price == "便宜 15%（含税）"
        review = await one(bot, Deadline, Deadline.kind == "competitor_review")
        assert review.status == "pending"
        await bot.send("liqiang", f"审核 {row.id} 通过")
        assert "已通过你对「杭州市第一人民医院」的竞对分析" in bot.texts_to("wanglei")[-1]
        r = await bot.send("liqiang", f"退回 {row.id} 再改改")
        assert "现在是「已通过」，只能退回待审核的" in r[-1]
        actions = [a.action for a in await rows(bot, AuditLog) if a.entity_type == "competitor_analysis"]
        assert actions == [
            "competitor.trigger",
            "competitor.submit",
            "competitor.return",
            "competitor.submit",
            "competitor.approve",
        ]


async def test_going_back_over_a_recorded_quote_keeps_it_and_links_the_new_one(tmp_path: Path) -> None:
    transcriber = ScriptedTranscriber()
    async with BotHarness(tmp_path, transcriber=transcriber, quotes=QuoteLedger()) as bot:
        await org(bot)
        await report_until_vendors(bot, tmp_path, "否")
        r = await bot.voice("wanglei", scripted_note(tmp_path, transcriber, "q1", "价格还要再谈"))
        assert any("原话 #1" in x for x in r)
        r = await bot.send("wanglei", "返回")
        assert r[0].startswith(
            "好的，回到上一个问题。刚才的回答是“价格还要再谈”。刚才那条原话（#1）会保留在账本里"
        )
        assert "语音" in r[-1]
        r = await bot.voice(
            "wanglei", scripted_note(tmp_path, transcriber, "q2", "预算今年很紧，价格还要再谈")
        )
        recorded = next(x for x in r if "原话 #2" in x)
        assert "上一条原话 #1 仍保留在账本里，已标记为被这条取代" in recorded
        await bot.send("wanglei", "采购成本高")
        await bot.send("wanglei", "无")
        demand = await one(bot, Demand)
        assert demand.quote_id == 2 and "预算今年很紧" in demand.text
        r = await bot.send("wanglei", "原话 #1")
        assert "已由原话 #2 取代，本条保留" in r[-1] and "价格还要再谈" in r[-1]
        async with bot.session() as s:
            report = await verify_chain(s)
        assert report.ok and len(await rows(bot, Quote)) == 2


def test_every_review_status_reads_the_same_in_chat_and_on_the_board() -> None:
    assert set(STATUS) == set(ReviewStatus) and STATUS == REVIEW_STATUS
    assert status_label("pending_review") == "待审核"
