"""Screenshots of every board page at phone (375 px) and desktop (1280 px) width into docs/board/.

    .venv/bin/python scripts/board_screenshots.py [--out docs/board]

Runs the real bot in-process on a temporary SQLite database with the demo organisation (plus a few
reviews, photos, quotes, trial reports, demand themes, rebates and two weeks of daily snapshots), signs
in through a `看板` link and drives Debian's chromium (Playwright, never a downloaded browser)."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import ViewportSize, async_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from bot.testing import BotHarness  # noqa: E402
from domain.board import snapshots  # noqa: E402
from domain.demo import seed_demo  # noqa: E402
from storage.models import (  # noqa: E402
    CompetitorAnalysis,
    Customer,
    Demand,
    Photo,
    Quote,
    RebateResult,
    TrialFeedback,
    User,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS: dict[str, ViewportSize] = {
    "phone": {"width": 375, "height": 812},
    "desktop": {"width": 1280, "height": 860},
}


def _photo(color: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), color)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 320, 480, 360), fill=(0, 0, 0))
    draw.text((10, 330), "2026-11-23 10:15  30.2741N 120.1551E", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(0, 10, "Trial feedback AF-100")
    return bytes(pdf.output())


async def seed(bot: BotHarness) -> None:
    now = bot.clock.now()
    files = bot.app.services.files
    async with bot.session() as session:
        await seed_demo(session, now)
    async with bot.session() as session:
        users = {u.console_id: u for u in (await session.execute(select(User))).scalars()}
        customers = list((await session.execute(select(Customer).order_by(Customer.id))).scalars())
        first = customers[0]
        rep, boss = users["wanglei"], users["liqiang"]
        for i, status in enumerate(("pending_review", "approved")):
            session.add(
                CompetitorAnalysis(
                    customer_id=customers[i].id,
                    rep_id=rep.id,
                    trigger="quote" if i == 0 else "rep",
                    trigger_text="你们比美敦力贵了不少" if i == 0 else "",
                    competitor=("美敦力", "西门子")[i],
                    price=("便宜 15%", "持平")[i],
                    delivery_cycle=("4 周", "6 周")[i],
                    weaknesses=("本地没有售后工程师，报修要等一周", "培训只给一次")[i],
                    status=status,
                    reviewer_id=boss.id,
                    review_comment="" if i == 0 else "很好，下次拜访带上维保方案",
                    created_at=now - timedelta(hours=3 + 20 * i),
                )
            )
        for j, color in enumerate(((70, 120, 180), (180, 120, 70))):
            media = await files.record(
                session, now=now, data=_photo(color), kind="photo", ext="jpg", mime="image/jpeg"
            )
            session.add(
                Photo(
                    media_id=media.id,
                    customer_id=first.id,
                    rep_id=rep.id,
                    created_at=now - timedelta(hours=j),
                )
            )
        pdf = await files.record(
            session, now=now, data=_pdf(), kind="report", ext="pdf", mime="application/pdf"
        )
        session.add(
            TrialFeedback(
                customer_id=first.id,
                rep_id=rep.id,
                product_code="AF-100",
                pain_points=["操作复杂"],
                pdf_media_id=pdf.id,
                created_at=now,
            )
        )
        sha, path = files.put(b"RIFF" + bytes(64), kind="audio", ext="wav")
        quote = Quote(
            seq=1,
            audio_sha256=sha,
            audio_path=str(path),
            audio_format="wav",
            transcript="设备坏了报修要等一周，科室很有意见",
            model_name="whisper-base",
            model_version="1",
            language="zh",
            duration_s=4.0,
            rep_id=rep.id,
            customer_id=first.id,
            created_at=now - timedelta(hours=5),
            prev_hash="0" * 64,
            hash="1" * 64,
        )
        session.add(quote)
        await session.flush()
        themes = (("remote-service", "远程售后"), ("training", "操作培训"), ("price", "价格"))
        for k in range(14):
            key, label = themes[k % 3]
            session.add(
                Demand(
                    customer_id=customers[k % len(customers)].id,
                    rep_id=(rep.id, users["zhangting"].id)[k % 2],
                    quote_id=quote.id if k == 0 else None,
                    text=f"{label}相关需求 {k + 1}",
                    cluster_key=key,
                    cluster_label=label,
                    created_at=now - timedelta(days=k * 3),
                )
            )
        for n, c in enumerate(customers[:5]):
            amount, increment, hospitals = Decimal(120000 - n * 15000), Decimal(20000 - n * 3000), n % 3
            session.add(
                RebateResult(
                    period="2026Q3",
                    customer_id=c.id,
                    inputs={
                        "contract_amount": str(amount),
                        "target_increment": str(20000 - n * 3000),
                        "new_hospitals": str(n % 3),
                    },
                    formula=bot.settings.rebates.formula,
                    formula_version="demo",
                    # the default formula (rebates.formula)
                    amount=(
                        amount * Decimal("0.03") + increment * Decimal("0.008") + hospitals * 5000
                    ).quantize(Decimal("0.01")),
                    computed_at=now,
                )
            )
        tz = bot.app.services.tz
        midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        for d in range(14, 0, -1):
            end = midnight - timedelta(days=d - 1)
            await snapshots.write_day(
                session,
                day=(end - timedelta(days=1)).date(),
                day_start=end - timedelta(days=1),
                as_of=end,
                settings=bot.settings.metrics,
            )


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="board-shots-") as tmp:
        async with BotHarness(Path(tmp), web={"listen": "127.0.0.1:0"}, jobs=False) as bot:
            await seed(bot)
            assert bot.app.web is not None
            base = bot.app.web.base_url
            async with bot.session() as session:
                first = (await session.execute(select(Customer.id).order_by(Customer.id))).scalars().first()
            pages = {
                "overview": "/board/",
                "customers": "/board/customers?stale=1",
                "customer": f"/board/customers/{first}",
                "reviews": "/board/reviews",
                "themes": "/board/themes",
                "theme": "/board/themes/remote-service",
                "trials": "/board/trials",
                "rebates": "/board/rebates",
                "system": "/board/system",
            }
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for kind, viewport in WIDTHS.items():
                    context = await browser.new_context(
                        viewport=viewport, is_mobile=kind == "phone", locale="zh-CN", device_scale_factor=1
                    )
                    page = await context.new_page()
                    replies = await bot.send("admin", "看板")
                    link = re.search(r"https?://\S+", replies[-1])
                    assert link, replies
                    await page.goto(link.group(0))
                    for name, path in pages.items():
                        await page.goto(base + path)
                        await page.wait_for_load_state("networkidle")
                        await page.wait_for_timeout(300)  # chart animations
                        target = out / f"{name}-{kind}.png"
                        await page.screenshot(path=str(target), full_page=True)
                        print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
                    await context.close()
                await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "board")
    target = parser.parse_args().out.resolve()
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
