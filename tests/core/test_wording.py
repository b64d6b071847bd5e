"""The wording helpers people read in every reminder and profile."""

from __future__ import annotations

import pytest

from domain.wording import days_ago, duration


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (0, "1 分钟"),
        (45, "45 分钟"),
        (60, "1 小时"),
        (320, "5 小时 20 分钟"),
        (24 * 60, "1 天"),
        (2 * 24 * 60 + 3 * 60 + 59, "2 天 3 小时"),
    ],
)
def test_duration_reads_as_hours_and_days(minutes: int, text: str) -> None:
    assert duration(minutes) == text


def test_days_ago_names_recent_days() -> None:
    assert [days_ago(n) for n in (0, 1, 2, 9)] == ["今天", "昨天", "前天", "9 天前"]
