"""Dates and times as a sales rep types them: 今天, 上周三, 12月3日, 3号, 下午三点, 十点半, 15:30.

Pure functions: the caller passes "today" / "now" in the company's time zone (from the controllable
clock), so nothing here reads the system time. Every refusal carries a short Chinese reason that
says what to type instead.

Conventions (Chinese usage):
- ``12/3`` and ``12-3`` are month/day. A first number above 12 is refused rather than guessed.
- A month and day without a year are in the current year; ``3号`` is the 3rd of the current month.
- Weeks start on Monday: 本周五 / 这周五 / 周五 are this week's Friday, 上周三 last week's Wednesday,
  下周一 next week's Monday; 周日 / 周天 / 星期日 close the week.
- 下午 / 晚上 / 傍晚 add 12 hours to 1–11 o'clock; a bare 一点–六点 (no 上午/下午) is
  afternoon, as people mean it in a working day, while ``3:00`` is taken as written; 中午 1–2 点 are
  13–14 点; 凌晨 12 点 is 0 点.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from domain.numerals import small_number

DATE_EXAMPLES = "今天、明天、上周三、12月3日、3号 或 2026-12-03"
TIME_EXAMPLES = "下午三点、上午10点半、15:30"


class WhenError(ValueError):
    """The text is not a date or time we can read; ``reason`` says why, in Chinese."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_NUM = r"[0-9零〇一二两三四五六七八九十]{1,3}"


def number(text: str) -> int | None:
    """``15`` / ``十五`` / ``二十三`` / ``三十一`` / ``两`` → int; None if it is not a small number."""
    return small_number(text)


_RELATIVE_DAYS = {
    "今天": 0,
    "今日": 0,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "大后天": 3,
    "昨天": -1,
    "昨日": -1,
    "前天": -2,
    "大前天": -3,
}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "1": 0, "2": 1}
_WEEKDAYS.update({"3": 2, "4": 3, "5": 4, "6": 5, "7": 6})
_WEEK_SHIFT = {"": 0, "本": 0, "这": 0, "这个": 0, "上": -1, "上个": -1, "上上": -2, "上上个": -2}
_WEEK_SHIFT.update({"下": 1, "下个": 1, "下下": 2, "下下个": 2})

_WEEK = re.compile(r"(?P<shift>上上个|上上|上个|上|下下个|下下|下个|下|本|这个|这)?(?:周|星期|礼拜)(?P<wd>.)")
_FULL = re.compile(rf"(?P<y>\d{{4}})[-/.年](?P<m>{_NUM})[-/.月](?P<d>{_NUM})[日号]?")
_MONTH_DAY = re.compile(rf"(?P<m>{_NUM})月(?P<d>{_NUM})[日号]?")
_SLASH = re.compile(r"(?P<a>\d{1,2})[/\-.](?P<b>\d{1,2})")
_DAY_ONLY = re.compile(rf"(?P<d>{_NUM})[号日]")
_AGO = re.compile(rf"(?P<n>{_NUM})天(?P<dir>前|以前|后|以后)")


def _make(year: int, month: int, day: int) -> date:
    if not 1 <= month <= 12:
        raise WhenError(f"月份要在 1–12 之间，“{month}月”不对")
    try:
        return date(year, month, day)
    except ValueError:
        raise WhenError(f"{month}月没有{day}日") from None


def parse_day(text: str, today: date) -> date:
    """One day, relative to ``today`` (the company's local date)."""
    s = re.sub(r"\s+", "", text)
    if not s:
        raise WhenError(f"请写一个日期，例如 {DATE_EXAMPLES}")
    if s in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[s])
    if m := _AGO.fullmatch(s):
        n = number(m.group("n"))
        if n is None:
            raise WhenError(f"看不懂“{s}”，请写成 3天前 这样的形式")
        return today + timedelta(days=-n if "前" in m.group("dir") else n)
    if m := _WEEK.fullmatch(s):
        wd = _WEEKDAYS.get(m.group("wd"))
        if wd is None:
            raise WhenError(f"“{s}”不是星期几：星期只有一到六和日")
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(weeks=_WEEK_SHIFT[m.group("shift") or ""], days=wd)
    if m := _FULL.fullmatch(s):
        month, day = number(m.group("m")), number(m.group("d"))
        if month is None or day is None:
            raise WhenError(f"看不懂“{s}”，请写成 2026-12-03")
        return _make(int(m.group("y")), month, day)
    if m := _MONTH_DAY.fullmatch(s):
        month, day = number(m.group("m")), number(m.group("d"))
        if month is None or day is None:
            raise WhenError(f"看不懂“{s}”，请写成 12月3日")
        return _make(today.year, month, day)
    if m := _SLASH.fullmatch(s):
        a, b = int(m.group("a")), int(m.group("b"))
        if a > 12:
            raise WhenError(f"“{s}”看不出是几月几日（按 月/日 写，月份不超过 12），请写成 12月3日 这样")
        return _make(today.year, a, b)
    if m := _DAY_ONLY.fullmatch(s):
        day = number(m.group("d"))
        if day is None or not 1 <= day <= 31:
            raise WhenError(f"“{s}”不对：一个月最多 31 号")
        try:
            return today.replace(day=day)
        except ValueError:
            raise WhenError(f"{today.month}月没有{day}号") from None
    raise WhenError(f"看不懂这个日期，请输入日期，例如 {DATE_EXAMPLES}")


_PERIODS = {
    "凌晨": "early",
    "早上": "am",
    "早晨": "am",
    "上午": "am",
    "中午": "noon",
    "下午": "pm",
    "傍晚": "pm",
    "晚上": "pm",
    "夜里": "pm",
}
_CLOCK = re.compile(
    rf"(?P<period>{'|'.join(_PERIODS)})?"
    rf"(?:(?P<h>\d{{1,2}})[:：](?P<mi>\d{{2}})"
    rf"|(?P<hc>{_NUM})[点時时](?:(?P<half>半)|(?P<q>[一三])刻|(?P<mc>{_NUM})分?|整)?)"
)
# 今晚八点 / 明早9点: a day and a period in one word
_SHORTHAND = {
    "今晚": "今天晚上",
    "明晚": "明天晚上",
    "昨晚": "昨天晚上",
    "明早": "明天早上",
    "今早": "今天早上",
}


def parse_clock(text: str) -> time:
    """A time of day: 15:30, 下午三点, 上午10点半, 三点一刻, 晚上8点."""
    s = re.sub(r"\s+", "", text)
    m = _CLOCK.fullmatch(s)
    if m is None:
        raise WhenError(f"看不懂这个时间，请写成 {TIME_EXAMPLES}")
    return _clock_of(m)


def _clock_of(m: re.Match[str]) -> time:
    if m.group("h") is not None:
        hour, minute = int(m.group("h")), int(m.group("mi"))
    else:
        hc = number(m.group("hc"))
        if hc is None:
            raise WhenError(f"看不懂“{m.group('hc')}点”，请写成 {TIME_EXAMPLES}")
        hour = hc
        if m.group("half"):
            minute = 30
        elif m.group("q"):
            minute = 15 if m.group("q") == "一" else 45
        elif m.group("mc"):
            mc = number(m.group("mc"))
            if mc is None:
                raise WhenError(f"看不懂“{m.group('mc')}分”，请写成 {TIME_EXAMPLES}")
            minute = mc
        else:
            minute = 0
    period = _PERIODS.get(m.group("period") or "")
    if period is None and m.group("hc") is not None and 1 <= hour <= 6:
        hour += 12  # 三点 with no 上午/下午 in a working day is 15:00; "3:00" stays as written
    if period is not None:
        if hour > 12 and period in ("am", "early"):
            raise WhenError(f"{m.group('period')}没有 {hour} 点，请写成 下午{hour - 12}点 或 {hour}:00")
        if m.group("period") in ("晚上", "夜里") and hour == 12:
            raise WhenError("晚上12点已是第二天 0 点，请写成 第二天的日期 加 0:00，或 23:59")
        if (period == "pm" and 1 <= hour < 12) or (period == "noon" and 1 <= hour <= 2):
            hour += 12
        elif period == "early" and hour == 12:
            hour = 0
    if not 0 <= hour <= 23:
        raise WhenError("时间不对：小时要在 0–23 之间")
    if not 0 <= minute <= 59:
        raise WhenError("时间不对：分钟要在 0–59 之间")
    return time(hour, minute)


_TAIL = re.compile(_CLOCK.pattern + r"$")


def parse_moment(text: str, now_local: datetime) -> datetime:
    """A day and a time (the day may be left out: today), in ``now_local``'s time zone.

    ``明天下午三点``, ``下周一 上午10点半``, ``12月3日 15:30``, ``2026-12-03T09:00``, ``今晚8点``,
    ``14:30``."""
    s = re.sub(r"\s+", " ", text.strip())
    for short, long in _SHORTHAND.items():
        s = s.replace(short, long)
    s = re.sub(rf"({'|'.join(_PERIODS)}) ", r"\1", s)
    m = None
    for start in range(len(s)):  # the leftmost start that reads to the end: keeps 下午 with the time
        if s[start] == " " or (start and s[start - 1].isdigit() and s[start].isdigit()):
            continue  # never start inside a number: "12/35:30" is refused, not read as 12/3 5:30
        m = _TAIL.match(s, start)
        if m is not None:
            break
    if m is None:
        raise WhenError("请输入日期和时间，例如 明天下午三点、12月3日 15:30 或 14:30")
    day_text = s[: m.start()].strip().rstrip("T")
    day = parse_day(day_text, now_local.date()) if day_text else now_local.date()
    return datetime.combine(day, _clock_of(m), tzinfo=now_local.tzinfo)
