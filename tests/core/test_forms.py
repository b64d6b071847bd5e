"""The form engine through the in-process harness: every field type, validation, 返回/跳过/取消,
repeated groups, conditions, resume after a restart, expiry, queued forms, stale card clicks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.testing import BotHarness, make_settings
from storage.models import ConversationState
from tests.core.formkit import FORMKIT_MODULES

FORMS = Path(__file__).parent / "forms_alltypes.toml"


def harness(tmp_path: Path, db_url: str | None = None, **kw: object) -> BotHarness:
    settings = make_settings(tmp_path, db_url=db_url, forms={"path": str(FORMS), "expire_hours": 72})
    return BotHarness(tmp_path, settings=settings, modules=FORMKIT_MODULES, **kw)  # type: ignore[arg-type]


def result(replies: list[str]) -> dict[str, object]:
    done = [r for r in replies if r.startswith("完成：")]
    assert done, replies
    return json.loads(done[-1].removeprefix("完成："))


async def fill_to_people(bot: BotHarness, data_dir: Path) -> None:
    await bot.send("rep", "测试表单")
    await bot.send("rep", "2")  # 交付延迟
    await bot.send("rep", "1,3")
    await bot.send("rep", "AB-123")
    await bot.send("rep", "12")
    await bot.send("rep", "1.5万")
    await bot.send("rep", "2026-11-20")
    await bot.send("rep", "明天 14:30")
    await bot.send("rep", "是")
    await bot.send("rep", "跳过")


async def test_every_field_type_fills_and_completes(tmp_path: Path, data_dir: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep", "王磊")
        first = await bot.send("rep", "测试表单")
        assert first[0] == "开始测试"
        assert "类型？" in first[1] and "回复 1–3" in first[1]
        await fill_to_people(bot, data_dir)
        r = await bot.send("rep", "1")
        assert "姓名？" in r[-1] and "第 1 项" in r[-1]
        await bot.send("rep", "刘主任")
        await bot.send("rep", "设备科")  # option text works as well as its number
        r = await bot.send("rep", "孙科长")
        assert "还要继续添加吗？" in r[-1]
        r = await bot.send("rep", "否")
        assert "照片？" in r[-1]
        r = await bot.photo("rep", data_dir / "photo.jpg")
        answers = result(r)
    assert answers["kind"] == "交付延迟"
    assert "kind_note" not in answers
    assert answers["tags"] == ["甲", "丙"]
    assert answers["code"] == "AB-123"
    assert answers["count"] == "12"
    assert answers["budget"] == "15000.00"
    assert answers["day"] == "2026-11-20"
    meet = answers["meet"]  # harness clock: Mon 2026-11-23 09:00 CST
    assert isinstance(meet, str) and meet.startswith("2026-11-24T14:30:00+08:00")
    assert answers["agree"] is True
    assert "memo" not in answers
    assert answers["people"] == [{"role": "采购科", "name": "刘主任"}, {"role": "设备科", "name": "孙科长"}]
    photo = answers["photo"]
    assert isinstance(photo, dict) and photo["sha256"]


@pytest.mark.parametrize(
    ("step", "bad", "reason"),
    [
        (1, "7", "“7”不是可选项"),
        (2, "1,2,3", "最多选 2 项"),
        (3, "ab123", "编号格式为 AB-123"),
        (4, "很多", "请输入数字"),
        (4, "500", "不能大于 100"),
        (6, "下周", "请输入日期"),
        (7, "25:00", "时间不对"),
        (8, "也许", "请回复「是」或「否」"),
    ],
)
async def test_invalid_answers_are_reasked_with_the_reason(
    tmp_path: Path, step: int, bad: str, reason: str
) -> None:
    good = ["2", "1", "AB-123", "12", "1000", "今天", "9:00", "否"]
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        for answer in good[: step - 1]:
            await bot.send("rep", answer)
        replies = await bot.send("rep", bad)
        assert reason in replies[0]
        assert not replies[0].endswith("：")  # the reason is a sentence; the question follows
        question = replies[-1]
        again = await bot.send("rep", good[step - 1])
        assert question not in again[-1]  # accepted: the next question follows


async def test_a_pasted_paragraph_is_not_echoed_back_whole(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        paragraph = "客户说" + "预算今年砍了两成" * 40
        r = await bot.send("rep", paragraph)
        assert r[0].startswith(f"“{paragraph[:30]}…”不是可选项"), r[0]
        assert len(r[0]) < 80


async def test_conditional_field_and_back_undo(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        r = await bot.send("rep", "其他")
        assert "说明其他" in r[-1]
        r = await bot.send("rep", "返回")
        assert r[0] == "好的，回到上一个问题。刚才的回答是“其他”。" and "类型？" in r[-1]
        r = await bot.send("rep", "1")
        assert "标签？" in r[-1]  # the conditional field is no longer asked
        r = await bot.send("rep", "返回")
        assert "类型？" in r[-1]
        r = await bot.send("rep", "返回")
        assert "已经是第一个问题了" in r[0]


async def test_back_inside_a_repeated_group_and_minimum_count(tmp_path: Path, data_dir: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await fill_to_people(bot, data_dir)
        await bot.send("rep", "1")
        await bot.send("rep", "甲")  # item 1 complete
        r = await bot.send("rep", "跳过")
        assert "必填" in r[0]
        r = await bot.send("rep", "返回")  # reopen item 1's name
        assert "姓名？" in r[-1] and "第 1 项" in r[-1]
        await bot.send("rep", "甲一")
        r = await bot.send("rep", "2")
        assert "第 2 项" in r[-1]  # min_items = 2: no "add another?" yet
        await bot.send("rep", "乙")
        await bot.send("rep", "是")
        await bot.send("rep", "3")
        r = await bot.send("rep", "丙")
        assert "照片？" in r[-1]  # max_items = 3 reached: no further question
        r = await bot.send("rep", "这是文字")
        assert "需要发送一张照片" in r[0]
        answers = result(await bot.photo("rep", data_dir / "photo.jpg"))
    people = answers["people"]
    assert isinstance(people, list) and [p["name"] for p in people] == ["甲一", "乙", "丙"]


async def test_skip_optional_and_refuse_required(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        r = await bot.send("rep", "跳过")
        assert "必填" in r[0] and "类型？" in r[-1]


async def test_cancel_keeps_answers_and_continue_resumes(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "答案一")
        r = await bot.send("rep", "取消")
        assert "已暂停「短表单」" in r[0] and "填好的内容都保存着" in r[0] and "回复「放弃」" in r[0]
        async with bot.session() as s:
            state = (await s.execute(select(ConversationState))).scalar_one()
            assert state.status == "cancelled" and state.answers == {"a": "答案一"}
        r = await bot.send("rep", "随便说点")
        assert "没听懂" in r[0]
        r = await bot.send("rep", "继续")
        assert "第二题？" in r[-1]
        await bot.send("rep", "答案二")
        answers = result(await bot.send("rep", "跳过"))
    assert answers == {"a": "答案一", "b": "答案二"}


async def test_discard_ends_a_form_for_good(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "答案一")
        r = await bot.send("rep", "放弃")
        assert r == ["已放弃「短表单」，不会再提醒你填写。"]
        assert (await bot.send("rep", "继续"))[-1] == "没有可以继续的表单。"
        # Paused first, then given up from outside the form.
        await bot.send("rep", "短表单")
        await bot.send("rep", "取消")
        assert (await bot.send("rep", "放弃"))[-1] == "已放弃「短表单」，不会再提醒你填写。"
        assert (await bot.send("rep", "放弃"))[-1] == "没有暂停中的表单可以放弃。"
        async with bot.session() as s:
            states = (await s.execute(select(ConversationState.status))).scalars().all()
            assert sorted(states) == ["withdrawn", "withdrawn"]


async def test_cancel_before_any_answer_does_not_claim_anything_was_kept(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        r = await bot.send("rep", "取消")
        assert r == ["已暂停「短表单」：回复「继续」接着填；不再需要的话回复「放弃」。"]
        r = await bot.send("rep", "继续")
        assert "第一题？" in r[-1]


async def test_text_is_refused_for_a_voice_quote(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "a")
        r = await bot.send("rep", "b")
        assert "客户原话？" in r[-1]
        r = await bot.send("rep", "客户说太贵了")
        assert "文字不能代替原话" in r[0]


async def test_resume_after_restart_with_a_fresh_engine(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "重启前")
    async with harness(tmp_path) as bot2:  # same database file, new process state
        r = await bot2.send("rep", "重启后")
        assert "客户原话？" in r[-1]
        answers = result(await bot2.send("rep", "跳过"))
    assert answers == {"a": "重启前", "b": "重启后"}


async def test_abandoned_form_expires_with_notice_and_keeps_answers(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "留下的答案")
        assert not [t for t in await bot.advance(timedelta(hours=1, minutes=59)) if "自动关闭" in t]
        texts = await bot.advance(timedelta(minutes=2))  # short form: expire_hours = 2
        assert any("「短表单」长时间未填写，已自动关闭" in t for t in texts)
        async with bot.session() as s:
            state = (await s.execute(select(ConversationState))).scalar_one()
            assert state.status == "expired" and state.answers == {"a": "留下的答案"}
        r = await bot.send("rep", "继续")
        assert "第二题？" in r[-1]


async def start_outside_a_turn(bot: BotHarness, form: str) -> None:
    """Open ``form`` for rep the way a sweep or an approval does, not from rep's own message."""
    user = await bot.user("rep")
    async with bot.session() as s:
        from storage.models import User

        u = await s.get(User, user.id)
        assert u is not None
        await bot.app.services.forms.start(s, now=bot.clock.now(), user=u, form_name=form)
    await bot.settle()


async def test_second_form_is_queued_until_the_first_closes(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await start_outside_a_turn(bot, "alltypes")
        assert any("已排队" in t for t in bot.texts_to("rep"))
        r = await bot.send("rep", "取消")
        assert "已暂停" in r[0]
        assert "开始测试" in r[1] and "类型？" in r[2]


async def active_and_queued(bot: BotHarness) -> list[tuple[str, str]]:
    async with bot.session() as s:
        rows = await s.execute(
            select(ConversationState.form, ConversationState.status)
            .where(ConversationState.status.in_(("active", "queued")))
            .order_by(ConversationState.id)
        )
        return [(form, status) for form, status in rows]


async def test_form_started_by_a_completer_follows_at_once(tmp_path: Path, db_url: str) -> None:
    # On both backends: closing one form and inserting the next in one flush must respect the
    # one-active-form index (PostgreSQL checks it per statement too).
    async with harness(tmp_path, db_url) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "连续")
        r = await bot.send("rep", "第二个答案")
        assert "客户原话？" in r[-1]
        r = await bot.send("rep", "跳过")
        assert r[0].startswith("完成：") and "第一题？" in r[-1]
        assert not [t for t in r if "已排队" in t]
        assert await active_and_queued(bot) == [("short", "active")]
        r = await bot.send("rep", "新一轮")  # the chained form takes the next answer
        assert "第二题？" in r[-1]


async def test_second_form_a_completer_starts_is_queued_behind_the_first(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "连续两个")
        await bot.send("rep", "b")
        r = await bot.send("rep", "跳过")
        assert "「短表单」已排队，完成当前的「短表单」后会开始。" in r
        assert "第一题？" in r[-1]
        assert await active_and_queued(bot) == [("short", "active"), ("short", "queued")]
        r = await bot.send("rep", "取消")
        assert "已暂停" in r[0] and "第一题？" in r[-1]
        assert await active_and_queued(bot) == [("short", "active")]


async def test_chained_form_goes_ahead_of_one_queued_earlier(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await start_outside_a_turn(bot, "alltypes")
        await bot.send("rep", "连续")
        await bot.send("rep", "b")
        r = await bot.send("rep", "跳过")
        assert "第一题？" in r[-1]
        assert await active_and_queued(bot) == [("alltypes", "queued"), ("short", "active")]


async def test_completer_asking_again_drops_the_form_it_started(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        await bot.send("rep", "重问")
        await bot.send("rep", "b")
        r = await bot.send("rep", "跳过")
        assert r[-2] == "第一题请换个说法" and "第一题？" in r[-1]
        assert await active_and_queued(bot) == [("short", "active")]
        r = await bot.send("rep", "正常")  # the other answers were kept: this completes the form
        assert r == ['完成：{"a": "正常", "b": "b"}']
        assert await active_and_queued(bot) == []


async def test_card_click_answers_and_stale_card_is_refused(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        old = bot.last_choice("rep")
        assert old is not None and old.options == ["采购成本高", "交付延迟", "其他"]
        r = await bot.click("rep", "1")
        assert "标签？" in r[-1]
        bot.console.last_choice["rep"] = old  # the rep taps the first card again
        r = await bot.click("rep", "2")
        assert "这张卡片已过期" in r[0]
        r = await bot.click("rep", "1", "2")  # a multi-select card sends several values
        assert "编号？" in r[-1]


async def test_commands_inside_a_form_and_role_refusal(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "短表单")
        r = await bot.send("rep", "查询 杭州")
        assert r[0] == "查询结果：杭州" and "第一题？" in r[-1]
        r = await bot.send("rep", "帮助")
        assert "我能帮你做这些" in r[0] and "第一题？" in r[-1]
        await bot.send("rep", "取消")
        r = await bot.send("rep", "经理命令")
        assert "只对经理开放" in r[0]


async def test_a_command_sent_inside_a_form_is_explained_and_continue_asks_again(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        r = await bot.send("rep", "短表单")  # a command that does not work inside a form
        assert "不是可选项" in r[0] and "正在填写「全类型测试」" in r[0], r
        assert "「短表单」请在填完或回复「取消」后再发" in r[0] and "类型？" in r[-1]
        r = await bot.send("rep", "经理命令")  # not hers to use: not suggested
        assert "不是可选项" in r[0] and "经理命令" not in r[0].split("不是可选项", 1)[1]
        r = await bot.send("rep", "继续")
        assert r[0] == "继续填写「全类型测试」：" and "类型？" in r[-1]
        await bot.send("rep", "2")
        r = await bot.send("rep", "短表单")  # still the first form's second question
        assert "正在填写「全类型测试」" in r[0]


def test_broken_forms_file_names_form_and_field(tmp_path: Path) -> None:
    from handlers.forms.spec import FormsFileError, load_forms
    from handlers.registry import build_registry

    registry = build_registry()
    path = tmp_path / "forms.toml"
    path.write_text(
        """
[forms.report]
title = "报告"
[[forms.report.fields]]
key = "progress"
type = "choice"
prompt = "进展？"
[[forms.report.fields]]
key = "note"
type = "txt"
prompt = "说明"
when = "progres == '其他'"
[[forms.report.fields]]
key = "progress"
type = "text"
prompt = "again"
""",
        encoding="utf-8",
    )
    with pytest.raises(FormsFileError) as info:
        load_forms(path, registry)
    problems = "\n".join(info.value.problems)
    assert (
        "form report, field progress: options: needs options" in problems
        or "form report, field progress" in problems
    )
    assert "needs options" in problems

    path.write_text(
        '[forms.report]\ntitle = "报告"\n[[forms.report.fields]]\nkey = "a"\ntype = "txt"\nprompt = "x"\n'
        '[[forms.report.fields]]\nkey = "b"\ntype = "text"\nprompt = "y"\nwhen = "progres == 1"\n'
        '[[forms.report.fields]]\nkey = "a"\ntype = "text"\nprompt = "z"\n',
        encoding="utf-8",
    )
    with pytest.raises(FormsFileError) as info:
        load_forms(path, registry)
    problems = "\n".join(info.value.problems)
    assert "form report, field a: unknown type 'txt'" in problems
    assert "form report, field b: condition 'progres == 1' refers to 'progres'" in problems
    assert "form report, field a: the key is used twice" in problems


def test_shipped_forms_file_is_valid() -> None:
    from config.settings import FormsSettings
    from handlers.forms.spec import load_forms
    from handlers.registry import build_registry

    forms = load_forms(FormsSettings().path, build_registry())
    assert {"customer", "visit_report", "demand_confirmation", "competitor", "trial_feedback"} <= set(forms)
