"""Files the board serves (photos, quote audio, trial PDFs: only through something the viewer sees,
else 404) and the XLSX exports (customers, rebates), written row by row to a temporary file and
streamed, so a 50k-row export keeps memory flat."""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from openpyxl import Workbook

from bot.web.board.render import bot_of, not_found, require
from bot.web.board.views import parse_filters
from domain.board import customers as customer_list
from domain.board import details
from domain.board.details import ServedFile
from domain.board.overview import stage_labels
from domain.numerals import row_id

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


def _id(request: web.Request) -> int:
    number = row_id(request.match_info.get("id", ""))
    if number is None:
        raise not_found(request)
    return number


def _send(request: web.Request, served: ServedFile | None) -> web.FileResponse:
    if served is None or not served.path.is_file():
        raise not_found(request)
    response = web.FileResponse(served.path)
    response.content_type = served.mime
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def photo(request: web.Request) -> web.FileResponse:
    scope = await require(request)
    bot = bot_of(request)
    async with bot.db.read() as session:
        served = await details.photo_file(session, scope, _id(request))
    return _send(request, served)


async def quote_audio(request: web.Request) -> web.FileResponse:
    scope = await require(request)
    bot = bot_of(request)
    async with bot.db.read() as session:
        served = await details.quote_audio(session, scope, _id(request))
    return _send(request, served)


async def trial_pdf(request: web.Request) -> web.FileResponse:
    scope = await require(request)
    bot = bot_of(request)
    async with bot.db.read() as session:
        served = await details.trial_pdf(session, scope, _id(request))
    response = _send(request, served)
    response.headers["Content-Disposition"] = "inline"
    return response


async def write_xlsx(
    path: Path, title: str, header: Sequence[str], rows: AsyncIterator[Sequence[Any]], *, batch: int = 1000
) -> int:
    """Rows into a write-only workbook (openpyxl keeps only the current row in memory). The rows are
    read on the event loop ``batch`` at a time; appending and saving run in a worker thread, one step
    at a time, so the loop keeps serving other requests during a large export."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append(list(header))

    def append(chunk: list[Sequence[Any]]) -> None:
        for row in chunk:
            sheet.append(list(row))

    n = 0
    chunk: list[Sequence[Any]] = []
    async for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            await asyncio.to_thread(append, chunk)
            n += len(chunk)
            chunk = []
    if chunk:
        await asyncio.to_thread(append, chunk)
        n += len(chunk)
    await asyncio.to_thread(book.save, path)
    return n


async def stream_file(request: web.Request, path: Path, filename: str) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store",
        }
    )
    response.content_length = (await asyncio.to_thread(os.stat, path)).st_size
    await response.prepare(request)
    with open(path, "rb") as fh:  # noqa: ASYNC230 - a local temporary file, read in chunks off the loop
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            await response.write(chunk)
    await response.write_eof()
    return response


async def customers_xlsx(request: web.Request) -> web.StreamResponse:
    scope = await require(request)
    if not scope.sees_customers:
        raise not_found(request)
    bot = bot_of(request)
    now = bot.clock.now()
    tz = bot.services.tz
    f = parse_filters(request.query)
    labels = stage_labels(bot.settings.forms.path)

    async def rows() -> AsyncIterator[Sequence[Any]]:
        async with bot.db.read() as session:
            async for c in customer_list.stream(session, scope, f, now, bot.settings.alerts):
                yield (
                    c.name,
                    c.owner,
                    labels.get(c.stage, c.stage),
                    c.region,
                    round(c.hours_since_update, 1),
                    c.last_update_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if c.last_update_at else "",
                    c.contacts,
                    "是" if c.zombie else "",
                )

    header = ("客户", "负责人", "阶段", "区域", "未更新（小时）", "上次更新", "关键人", "僵尸")
    with tempfile.TemporaryDirectory(prefix="board-export-") as tmp:
        path = Path(tmp) / "customers.xlsx"
        await write_xlsx(path, "客户", header, rows())
        stamp = now.astimezone(tz).strftime("%Y%m%d")
        return await stream_file(request, path, f"客户_{stamp}.xlsx")


async def rebates_xlsx(request: web.Request) -> web.StreamResponse:
    scope = await require(request)
    if not scope.sees_rebates:
        raise not_found(request)
    bot = bot_of(request)
    period = request.query.get("period", "")[:10]
    async with bot.db.read() as session:
        result = await details.rebates(session, scope, period)
    if not result:
        raise not_found(request)
    keys: list[str] = []
    for r, _ in result:
        keys += [k for k in r.inputs if k not in keys]

    async def rows() -> AsyncIterator[Sequence[Any]]:
        for r, name in result:
            yield (name, *[r.inputs.get(k, "") for k in keys], float(r.amount), r.formula_version[:12])

    from bot.web.board.views import INPUT_LABELS

    header = ("经销商", *[INPUT_LABELS.get(k, k) for k in keys], "返利（元）", "公式版本")
    with tempfile.TemporaryDirectory(prefix="board-export-") as tmp:
        path = Path(tmp) / "rebates.xlsx"
        await write_xlsx(path, period, header, rows())
        return await stream_file(request, path, f"返利_{period}.xlsx")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/photos/{id}", photo)
    app.router.add_get("/quotes/{id}/audio", quote_audio)
    app.router.add_get("/trials/{id}/pdf", trial_pdf)
    app.router.add_get("/customers.xlsx", customers_xlsx)
    app.router.add_get("/rebates.xlsx", rebates_xlsx)
