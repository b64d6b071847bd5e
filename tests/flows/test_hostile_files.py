"""Hostile files are refused with a plain message before they are decoded; the event is handled."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bench.hostile_files import png_bomb_bytes
from bot.testing import BotHarness
from storage.models import InboundEvent
from tests.flows.kit import org


async def test_a_40000_square_png_photo_is_handled_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb_bytes(40000, 40000))
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        r = await bot.photo("wanglei", path)
        assert r == ["图片太大（160000 万像素），无法处理。请压缩或截图后重新发送。"], r
        async with bot.session() as session:
            statuses = list((await session.execute(select(InboundEvent.status))).scalars())
        assert "failed" not in statuses, statuses
