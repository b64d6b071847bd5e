"""The same photo reused for another visit is flagged to the rep and marked on the visit record; a
photo sent outside any form is offered to the rep's latest visit."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.testing import BotHarness
from domain.photos import NotAnImage, dhash, hash_distance
from storage.models import Photo
from tests.flows.kit import add_customer, org, rows, visit_fields


def scene(path: Path, seed: int) -> Path:
    """A photo-like picture: a gradient sky, buildings and noise, different for each seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", (800, 600))
    draw = ImageDraw.Draw(img)
    for y in range(600):
        draw.line([(0, y), (800, y)], fill=(rng.randint(0, 40) + y // 5, 120, 220 - y // 4))
    for _ in range(25):
        x, y, w, h = rng.randint(0, 760), rng.randint(100, 560), rng.randint(40, 260), rng.randint(40, 300)
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        (draw.rectangle if rng.random() < 0.6 else draw.ellipse)((x, y, x + w, y + h), fill=colour)
    img.save(path, "JPEG", quality=90)
    return path


def recompressed(src: Path, dst: Path) -> Path:
    """What a chat app makes of a forwarded photo: half the size, stronger compression."""
    with Image.open(src) as img:
        img.resize((img.width // 2, img.height // 2)).save(dst, "JPEG", quality=50)
    return dst


async def report_with_photo(bot: BotHarness, customer: str, photo: Path) -> list[str]:
    r = await bot.send("wanglei", f"拜访完成 {customer}")
    assert "请上传现场照片" in r[-1], r
    shown = await bot.photo("wanglei", photo)
    assert "本次核心进展" in shown[-1], shown
    await bot.send("wanglei", "确定预算范围")
    await bot.send("wanglei", "无")  # no key person met
    done = await bot.send("wanglei", "否")
    assert "拜访报告已提交" in done[0], done
    await bot.send("wanglei", "取消")  # the demand confirmation that follows
    return shown + done


def test_a_recompressed_copy_hashes_close_and_another_scene_far(tmp_path: Path) -> None:
    first = scene(tmp_path / "a.jpg", 1)
    copy = recompressed(first, tmp_path / "a-copy.jpg")
    other = scene(tmp_path / "b.jpg", 2)
    a, b, c = (dhash(p.read_bytes()) for p in (first, copy, other))
    assert a and b and c
    assert hash_distance(a, b) <= 6 < hash_distance(a, c)


def test_a_plain_picture_has_no_perceptual_hash(data_dir: Path) -> None:
    assert dhash((data_dir / "photo.jpg").read_bytes()) is None  # one flat colour: all alike


async def test_a_reused_photo_is_flagged_and_marked(tmp_path: Path, db_url: str) -> None:
    first = scene(tmp_path / "door.jpg", 7)
    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await add_customer(bot, "富阳区人民医院", "wanglei")
        r = await report_with_photo(bot, "杭州市第一人民医院", first)
        assert not any("注意" in t for t in r), r
        await bot.advance(timedelta(days=1))
        r = await report_with_photo(bot, "富阳区人民医院", recompressed(first, tmp_path / "copy.jpg"))
        warning = "注意：这张照片和 11月23日 拜访「杭州市第一人民医院」时用过的一张几乎一样"
        assert any(warning in t for t in r), r
        assert any("已标记为重复照片" in t for t in r), r
        await bot.advance(timedelta(days=1))
        r = await report_with_photo(bot, "杭州市第一人民医院", first)  # the very same file again
        assert any("11月23日 拜访「杭州市第一人民医院」时已经用过" in t for t in r), r
        await bot.advance(timedelta(days=1))
        r = await report_with_photo(bot, "富阳区人民医院", scene(tmp_path / "other.jpg", 8))
        assert not any("注意" in t or "重复" in t for t in r), r
        photos = await rows(bot, Photo)
    assert [p.reused_photo_id for p in photos] == [None, photos[0].id, photos[0].id, None]
    assert all(p.phash for p in photos)


async def test_a_photo_outside_a_form_is_offered_to_the_latest_visit(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
        await bot.approval("wanglei", "AP-1", "approved")
        door = scene(tmp_path / "door.jpg", 3)
        await report_with_photo(bot, "杭州市第一人民医院", door)
        await bot.advance(timedelta(hours=3))
        r = await bot.photo("wanglei", door)  # the report's own photo: offered, but not a reuse
        assert "拜访「杭州市第一人民医院」时拍的吗？" in r[-1] and "注意" not in r[-1], r
        r = await bot.send("wanglei", "1")
        assert "已经在「杭州市第一人民医院」这次拜访的记录里了" in r[-1], r
        r = await bot.photo("wanglei", scene(tmp_path / "dept.jpg", 4))
        assert "已收到文件" not in "\n".join(r)
        assert "收到照片。是 今天 09:00 拜访「杭州市第一人民医院」时拍的吗？" in r[-1], r
        r = await bot.send("wanglei", "1")
        assert "已加到 今天 09:00 拜访「杭州市第一人民医院」的记录：照片已保存" in r[-1], r
        r = await bot.send("wanglei", "1")
        assert "已经在「杭州市第一人民医院」这次拜访的记录里了" in r[-1], r
        photos = await rows(bot, Photo)
    assert len(photos) == 2 and photos[0].visit_id == photos[1].visit_id is not None


async def test_a_photo_with_no_recent_visit_says_what_photos_are_for(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        r = await bot.photo("wanglei", scene(tmp_path / "door.jpg", 5))
        assert "收到照片，已存档" in r[-1] and "拜访完成 客户名称" in r[-1], r
        assert "已收到文件" not in r[-1]


def test_a_picture_too_large_to_decode_is_refused_not_crashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = scene(tmp_path / "big.jpg", 9).read_bytes()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 800×600 is now a "decompression bomb"
    with pytest.raises(NotAnImage):
        dhash(data)


async def test_a_colleagues_photo_is_flagged_without_naming_the_customer(tmp_path: Path) -> None:
    first = scene(tmp_path / "door.jpg", 11)
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "zhangting")
        await add_customer(bot, "富阳区人民医院", "wanglei")
        await bot.send("zhangting", "拜访完成 杭州市第一人民医院")
        await bot.photo("zhangting", first)
        await bot.send("zhangting", "确定预算范围")
        await bot.send("zhangting", "无")  # no key person met
        await bot.send("zhangting", "否")
        await bot.advance(timedelta(days=1))
        r = await bot.send("wanglei", "拜访完成 富阳区人民医院")
        r = await bot.photo("wanglei", first)
        assert any("注意：这张照片在 11月23日 同事拜访时已经用过" in t for t in r), r
        assert not any("杭州市第一人民医院" in t for t in r), r
