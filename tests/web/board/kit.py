"""Helpers for the board's browser tests: a bot with its web server, seeded data, signing in."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page

from bot.testing import BotHarness
from domain.names import normalize
from domain.quotes import compute_hash
from storage.models import (
    CompetitorAnalysis,
    Customer,
    KeyPerson,
    Photo,
    ProgressUpdate,
    Quote,
    TrialFeedback,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def board_bot(tmp_path: Path, **kw: Any) -> BotHarness:
    web = kw.pop("web", {})
    return BotHarness(tmp_path, web={"listen": "127.0.0.1:0", **web}, **kw)


def base(bot: BotHarness) -> str:
    assert bot.app.web is not None
    return bot.app.web.base_url


async def org(bot: BotHarness) -> None:
    """Two teams: 李强 manages 王磊 and 张婷 (一组), 赵刚 manages 孙悦 (二组); plus admin, product, finance."""
    await bot.add_user("admin", "周敏", roles=("admin",))
    await bot.add_user("liqiang", "李强", roles=("manager",))
    await bot.add_user("wanglei", "王磊", supervisor="liqiang")
    await bot.add_user("zhangting", "张婷", supervisor="liqiang")
    await bot.add_user("zhaogang", "赵刚", roles=("manager",), team="二组")
    await bot.add_user("sunyue", "孙悦", supervisor="zhaogang", team="二组")
    await bot.add_user("chanpin", "陈萍", roles=("product",), team="产品部")
    await bot.add_user("caiwu", "蔡文", roles=("finance",), team="财务部")


async def customer(
    bot: BotHarness,
    name: str,
    owner: str,
    *,
    hours_since_update: float | None,
    stage: str = "proposal",
    region: str = "杭州",
    contacts: int = 2,
) -> int:
    now = bot.clock.now()
    rep = await bot.user(owner)
    last = None if hours_since_update is None else now - timedelta(hours=hours_since_update)
    async with bot.session() as session:
        row = Customer(
            name=name,
            normalized_name=normalize(name),
            kind="三甲医院",
            region=region,
            owner_id=rep.id,
            stage=stage,
            status="active",
            lead_created_at=now - timedelta(days=30),
            last_update_at=last,
            created_at=now - timedelta(days=30),
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        for i in range(contacts):
            session.add(
                KeyPerson(
                    customer_id=row.id,
                    role_group="采购科",
                    name=f"联系人{i + 1}",
                    last_contact_on=(now - timedelta(days=10 + 80 * i)).date(),
                    created_at=now,
                    updated_at=now,
                )
            )
        if last is not None:
            session.add(
                ProgressUpdate(
                    customer_id=row.id, rep_id=rep.id, kind="note", progress="跟进", created_at=last
                )
            )
        return row.id


async def pending_review(bot: BotHarness, customer_id: int, rep: str, reviewer: str) -> int:
    now = bot.clock.now()
    rep_user, boss = await bot.user(rep), await bot.user(reviewer)
    async with bot.session() as session:
        row = CompetitorAnalysis(
            customer_id=customer_id,
            rep_id=rep_user.id,
            trigger="rep",
            competitor="美敦力",
            price="便宜 15%",
            delivery_cycle="4 周",
            weaknesses="本地没有售后工程师",
            status="pending_review",
            reviewer_id=boss.id,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        return row.id


async def media(bot: BotHarness, data: bytes, *, kind: str, ext: str, mime: str) -> int:
    async with bot.session() as session:
        row = await bot.app.services.files.record(
            session, now=bot.clock.now(), data=data, kind=kind, ext=ext, mime=mime
        )
        return row.id


async def files_of(bot: BotHarness, customer_id: int, rep: str, tmp_path: Path) -> dict[str, str]:
    """A photo, a quote with audio and a trial PDF on the customer; returns their board paths."""
    from PIL import Image

    now = bot.clock.now()
    rep_user = await bot.user(rep)
    jpg = tmp_path / f"photo-{customer_id}.jpg"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(jpg)
    photo_media = await media(bot, jpg.read_bytes(), kind="photo", ext="jpg", mime="image/jpeg")
    pdf_media = await media(
        bot,
        b"%PDF-1.4\n%" + str(customer_id).encode() + b"\n%%EOF\n",
        kind="report",
        ext="pdf",
        mime="application/pdf",
    )
    audio = bot.app.services.files.put(
        b"RIFF" + bytes(40) + str(customer_id).encode(), kind="audio", ext="wav"
    )
    async with bot.session() as session:
        photo = Photo(media_id=photo_media, customer_id=customer_id, rep_id=rep_user.id, created_at=now)
        trial = TrialFeedback(
            customer_id=customer_id,
            rep_id=rep_user.id,
            product_code="AF-100",
            pdf_media_id=pdf_media,
            created_at=now,
        )
        quote = Quote(
            seq=customer_id,
            audio_sha256=audio[0],
            audio_path=str(audio[1]),
            audio_format="wav",
            transcript="价格还要再谈",
            model_name="test",
            model_version="1",
            language="zh",
            duration_s=1.0,
            rep_id=rep_user.id,
            customer_id=customer_id,
            created_at=now,
            prev_hash="0" * 64,
        )
        quote.hash = compute_hash(quote)  # a row that matches its hash (the board checks it, as chat does)
        session.add_all([photo, trial, quote])
        await session.flush()
        return {
            "photo": f"/board/photos/{photo.id}",
            "audio": f"/board/quotes/{quote.id}/audio",
            "pdf": f"/board/trials/{trial.id}/pdf",
        }


async def link_for(bot: BotHarness, handle: str, page: str = "") -> str:
    replies = await bot.send(handle, f"看板 {page}".strip())
    match = re.search(r"https?://\S+/board/login\?t=\S+", "\n".join(replies))
    assert match, replies
    return match.group(0)


async def sign_in(bot: BotHarness, context: BrowserContext, handle: str, page_name: str = "") -> Page:
    page = await context.new_page()
    await page.goto(await link_for(bot, handle, page_name))
    return page
