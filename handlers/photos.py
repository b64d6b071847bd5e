"""Visit photos: keep the original (already content-addressed), read EXIF, store a stamped copy."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from core.events import CardActionEvent, ImageEvent
from core.messages import Choice
from domain.fonts import FontMissing, find_cjk_font
from domain.photo_reuse import EarlierPhoto, find_earlier, recent_visit, visit_time
from domain.photo_store import record_photo
from domain.photos import NotAnImage, PhotoMeta, dhash, read_meta, stamp
from handlers.context import Turn
from storage.models import Customer, MediaFile, Photo, Visit

if TYPE_CHECKING:
    from handlers.registry import Registry

RECENT_VISIT = timedelta(hours=36)  # a photo sent outside a form: visits this recent are offered
CARD = "photo:"

log = logging.getLogger(__name__)


def stamp_lines(turn: Turn, customer: Customer, meta: PhotoMeta) -> list[str]:
    fmt = "%Y-%m-%d %H:%M"
    if meta.taken_at is not None:
        when = f"拍摄时间 {meta.taken_at.astimezone(turn.services.tz).strftime(fmt)}"
    else:
        when = f"上传时间 {turn.local(turn.now).strftime(fmt)}"
    if meta.gps_lat is not None and meta.gps_lon is not None:
        where = f"位置 {meta.gps_lat:.5f}, {meta.gps_lon:.5f}"
    else:
        where = f"地点 {customer.region or '未知'}"
    return [f"客户 {customer.name}", when, where, f"拜访人 {turn.user.name}"]


async def store_visit_photo(
    turn: Turn, *, media_id: int, visit: Visit | None, customer: Customer
) -> Photo | None:
    media = await turn.session.get(MediaFile, media_id)
    if media is None:
        return None
    data = await asyncio.to_thread(Path(media.path).read_bytes)
    try:
        meta = await asyncio.to_thread(read_meta, data, turn.services.tz)
        phash: str | None = await asyncio.to_thread(dhash, data)
    except NotAnImage:
        log.warning("photo %s is not a readable image", media.sha256)
        meta, phash = PhotoMeta(None, None, None, 0, 0), None
    earlier = await find_earlier(
        turn.session, media_id=media.id, phash=phash, visit_id=visit.id if visit else None
    )
    stamped_id = None
    try:
        font = find_cjk_font(turn.services.settings.reports.font_path)
        stamped = await asyncio.to_thread(stamp, data, stamp_lines(turn, customer, meta), font)
    except (FontMissing, NotAnImage) as exc:
        log.warning("photo %s kept without a stamped copy: %s", media.sha256, exc)
    else:
        copy = await turn.services.files.record(
            turn.session,
            now=turn.now,
            data=stamped,
            kind="photo",
            ext="jpg",
            mime="image/jpeg",
            original_name=f"stamped-{media.sha256[:12]}.jpg",
            channel=media.channel,
        )
        stamped_id = copy.id
    photo = await record_photo(
        turn.session,
        now=turn.now,
        media_id=media.id,
        stamped_media_id=stamped_id,
        visit_id=visit.id if visit else None,
        customer_id=customer.id,
        rep_id=turn.user.id,
        meta=meta,
        phash=phash,
        reused_photo_id=earlier.photo_id if earlier else None,
    )
    turn.audit(
        "photo.add",
        "photo",
        photo.id,
        after={
            "sha256": media.sha256,
            "visit_id": photo.visit_id,
            "taken_at": meta.taken_at,
            "gps": [meta.gps_lat, meta.gps_lon] if meta.gps_lat is not None else None,
            "stamped_media_id": stamped_id,
            "phash": phash,
            "reused_photo_id": photo.reused_photo_id,
        },
    )
    return photo


async def earlier_use(turn: Turn, media: MediaFile, visit_id: int | None = None) -> EarlierPhoto | None:
    """Whether this picture (the same file or a near-identical copy) was used for another visit."""
    data = await asyncio.to_thread(Path(media.path).read_bytes)
    try:
        phash: str | None = await asyncio.to_thread(dhash, data)
    except NotAnImage:
        log.warning("photo %s is not a readable image: no perceptual hash", media.sha256)
        phash = None
    return await find_earlier(turn.session, media_id=media.id, phash=phash, visit_id=visit_id)


def reuse_text(turn: Turn, earlier: EarlierPhoto) -> str:
    """「注意：这张照片在 11月20日 拜访「富阳区人民医院」时已经用过……」, for the rep."""
    when = turn.local(earlier.when)
    day = f"{when.month}月{when.day}日"
    if earlier.rep_id != turn.user.id:  # another rep's customer is not named to this one
        where = "同事拜访"
    elif earlier.customer_name:
        where = f"拜访「{earlier.customer_name}」"
    else:
        where = "拜访"
    if earlier.exact:
        seen = f"这张照片在 {day} {where}时已经用过"
    else:
        seen = f"这张照片和 {day} {where}时用过的一张几乎一样"
    return f"注意：{seen}，会在拜访记录里标记为重复照片。"


def describe(photo: Photo) -> str:
    parts = ["照片已保存"]
    if photo.stamped_media_id:
        parts.append("已加水印")
    if photo.taken_at is not None:
        parts.append("含拍摄时间")
    if photo.gps_lat is not None:
        parts.append("含位置")
    if photo.reused_photo_id is not None:
        parts.append("已标记为重复照片")
    return "、".join(parts)


async def photo_outside_form(turn: Turn) -> None:
    """A photo with no form waiting for it: offer the rep's latest visit, or say what photos are for."""
    media = turn.media
    if not isinstance(turn.event, ImageEvent) or media is None or media.kind != "photo":
        await turn.reply("已收到文件。当前没有需要上传照片或文件的表单。")
        return
    visit = await recent_visit(turn.session, rep_id=turn.user.id, now=turn.now, within=RECENT_VISIT)
    customer = await turn.session.get(Customer, visit.customer_id) if visit and visit.customer_id else None
    if visit is None or customer is None:
        await turn.reply(
            "收到照片，已存档。拜访照片请在填写「拜访报告」时上传，系统会加上时间和客户水印；"
            "拜访结束后回复「拜访完成 客户名称」就可以开始填写。"
        )
        return
    lines = [f"收到照片。是 {_when_text(turn, visit_time(visit))} 拜访「{customer.name}」时拍的吗？"]
    earlier = await earlier_use(turn, media, visit.id)
    if earlier is not None:
        lines.append(reuse_text(turn, earlier))
    await turn.reply(
        Choice(
            prompt="\n".join(lines),
            options=["是，加到这次拜访的记录里", "不是"],
            token=f"{CARD}{media.id}:{visit.id}",
        )
    )


def _when_text(turn: Turn, when: datetime) -> str:
    local, today = turn.local(when), turn.local(turn.now).date()
    day = {0: "今天", 1: "昨天", 2: "前天"}.get((today - local.date()).days, f"{local.month}月{local.day}日")
    return f"{day} {local:%H:%M}"


async def attach_card(turn: Turn) -> None:
    """The rep's answer to 「是 … 时拍的吗？」."""
    event = turn.event
    if not isinstance(event, CardActionEvent):
        return
    try:
        media_id, visit_id = (int(x) for x in event.card_id.removeprefix(CARD).split(":"))
    except ValueError:
        log.warning("photo card %r is malformed", event.card_id)
        await turn.reply("这张卡片已失效。")
        return
    if (event.values[0] if event.values else "") not in ("1", "是，加到这次拜访的记录里"):
        await turn.reply("好的，照片只存档，不加到拜访记录。")
        return
    visit = await turn.session.get(Visit, visit_id)
    customer = await turn.session.get(Customer, visit.customer_id) if visit and visit.customer_id else None
    if visit is None or customer is None or visit.rep_id != turn.user.id:
        await turn.reply("找不到这次拜访，照片只存档。")
        return
    already = await turn.session.scalar(
        select(Photo.id).where(Photo.media_id == media_id, Photo.visit_id == visit.id)
    )
    if already is not None:
        await turn.reply(f"这张照片已经在「{customer.name}」这次拜访的记录里了。")
        return
    photo = await store_visit_photo(turn, media_id=media_id, visit=visit, customer=customer)
    if photo is None:
        await turn.reply("找不到这张照片的文件，请重新发送。")
        return
    await turn.reply(
        f"已加到 {_when_text(turn, visit_time(visit))} 拜访「{customer.name}」的记录：{describe(photo)}。"
    )


def setup(registry: Registry) -> None:
    registry.media_handler = photo_outside_form
    registry.card(CARD, attach_card, newest_only=True)  # a number answers the latest photo
