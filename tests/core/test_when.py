"""Dates and times as reps type them: a table of accepted inputs and of refusals with their reason."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.when import WhenError, number, parse_clock, parse_day, parse_moment

TODAY = date(2026, 12, 5)  # a Saturday
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今天", date(2026, 12, 5)),
        ("明天", date(2026, 12, 6)),
        ("后天", date(2026, 12, 7)),
        ("大后天", date(2026, 12, 8)),
        ("昨天", date(2026, 12, 4)),
        ("前天", date(2026, 12, 3)),
        ("3天前", date(2026, 12, 2)),
        ("三天后", date(2026, 12, 8)),
        ("上周三", date(2026, 11, 25)),
        ("上星期三", date(2026, 11, 25)),
        ("下周一", date(2026, 12, 7)),
        ("下个星期一", date(2026, 12, 7)),
        ("本周五", date(2026, 12, 4)),
        ("这周五", date(2026, 12, 4)),
        ("周五", date(2026, 12, 4)),
        ("周日", date(2026, 12, 6)),
        ("礼拜天", date(2026, 12, 6)),
        ("12月3日", date(2026, 12, 3)),
        ("12月3号", date(2026, 12, 3)),
        ("十二月三日", date(2026, 12, 3)),
        ("1月31日", date(2026, 1, 31)),
        ("12/3", date(2026, 12, 3)),
        ("12-3", date(2026, 12, 3)),
        ("3号", date(2026, 12, 3)),
        ("三十一号", date(2026, 12, 31)),
        ("2026-12-03", date(2026, 12, 3)),
        ("2026/12/3", date(2026, 12, 3)),
        ("2026年12月3日", date(2026, 12, 3)),
        (" 2026-11-20 ", date(2026, 11, 20)),
    ],
)
def test_days_people_type(text: str, expected: date) -> None:
    assert parse_day(text, TODAY) == expected


def test_weeks_start_on_monday_even_on_a_sunday() -> None:
    sunday = date(2026, 12, 6)
    assert parse_day("本周一", sunday) == date(2026, 11, 30)
    assert parse_day("下周一", sunday) == date(2026, 12, 7)
    assert parse_day("上周日", sunday) == date(2026, 11, 29)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "请写一个日期"),
        ("下周", "请输入日期"),
        ("随便哪天", "请输入日期"),
        ("13/5", "按 月/日 写"),
        ("25/12", "月份不超过 12"),
        ("2月30日", "2月没有30日"),
        ("11月31日", "11月没有31日"),
        ("13月2日", "月份要在 1–12 之间"),
        ("2026-13-01", "月份要在 1–12 之间"),
        ("32号", "一个月最多 31 号"),
        ("周八", "星期只有一到六和日"),
        ("12/3/5", "请输入日期"),
    ],
)
def test_days_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as info:
        parse_day(text, TODAY)
    assert reason in info.value.reason


def test_day_of_month_that_this_month_lacks() -> None:
    with pytest.raises(WhenError, match="11月没有31号"):
        parse_day("31号", date(2026, 11, 5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15:30", time(15, 30)),
        ("15：30", time(15, 30)),
        ("9:05", time(9, 5)),
        ("3:00", time(3, 0)),
        ("下午三点", time(15, 0)),
        ("下午3点", time(15, 0)),
        ("下午15点", time(15, 0)),
        ("上午10点半", time(10, 30)),
        ("上午十点半", time(10, 30)),
        ("三点一刻", time(15, 15)),
        ("十点三刻", time(10, 45)),
        ("晚上8点", time(20, 0)),
        ("傍晚六点", time(18, 0)),
        ("中午12点", time(12, 0)),
        ("中午1点", time(13, 0)),
        ("凌晨12点", time(0, 0)),
        ("凌晨两点", time(2, 0)),
        ("早上8点", time(8, 0)),
        ("9点", time(9, 0)),
        ("十一点", time(11, 0)),
        ("14点20分", time(14, 20)),
        ("下午3点05", time(15, 5)),
        ("两点半", time(14, 30)),
        ("八点整", time(8, 0)),
    ],
)
def test_times_people_type(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("25:00", "小时要在 0–23 之间"),
        ("15:75", "分钟要在 0–59 之间"),
        ("上午15点", "上午没有 15 点"),
        ("晚上12点", "第二天 0 点"),
        ("三点七十分", "分钟要在 0–59 之间"),
        ("等会儿", "看不懂这个时间"),
        ("", "看不懂这个时间"),
    ],
)
def test_times_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as info:
        parse_clock(text)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天下午三点", datetime(2026, 12, 6, 15, 0, tzinfo=SHANGHAI)),
        ("明天 下午三点", datetime(2026, 12, 6, 15, 0, tzinfo=SHANGHAI)),
        ("下周一 上午10点半", datetime(2026, 12, 7, 10, 30, tzinfo=SHANGHAI)),
        ("12月3日 15:30", datetime(2026, 12, 3, 15, 30, tzinfo=SHANGHAI)),
        ("12月3日15:30", datetime(2026, 12, 3, 15, 30, tzinfo=SHANGHAI)),
        ("12/3 9:30", datetime(2026, 12, 3, 9, 30, tzinfo=SHANGHAI)),
        ("3号下午两点", datetime(2026, 12, 3, 14, 0, tzinfo=SHANGHAI)),
        ("2026-12-03 09:00", datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI)),
        ("2026-12-03T09:00", datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI)),
        ("今晚8点", datetime(2026, 12, 5, 20, 0, tzinfo=SHANGHAI)),
        ("明早9点", datetime(2026, 12, 6, 9, 0, tzinfo=SHANGHAI)),
        ("14:30", datetime(2026, 12, 5, 14, 30, tzinfo=SHANGHAI)),
        ("下午 3点", datetime(2026, 12, 5, 15, 0, tzinfo=SHANGHAI)),
        ("明天 9:00", datetime(2026, 12, 6, 9, 0, tzinfo=SHANGHAI)),
    ],
)
def test_moments_people_type(text: str, expected: datetime) -> None:
    got = parse_moment(text, NOW)
    assert got == expected
    assert got.tzinfo == SHANGHAI


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("明天", "请输入日期和时间"),
        ("下周 3点", "请输入日期"),
        ("12/35:30", "请输入日期"),
        ("明天 25:00", "小时要在 0–23 之间"),
        ("2月30日 9:00", "2月没有30日"),
    ],
)
def test_moments_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as info:
        parse_moment(text, NOW)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    ("text", "value"),
    [("十", 10), ("十五", 15), ("二十", 20), ("二十三", 23), ("三十一", 31), ("两", 2), ("07", 7)],
)
def test_chinese_numbers(text: str, value: int) -> None:
    assert number(text) == value


@pytest.mark.parametrize("text", ["", "十十", "百", "三十一二", "一二"])
def test_not_numbers(text: str) -> None:
    assert number(text) is None
