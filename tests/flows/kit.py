"""Shared set-up for the sales-flow tests: an organisation, customers, audio, photos, and the speech ports.

The organisation: 李强 (liqiang, manager) leads 王磊 (wanglei) and 张婷 (zhangting); 赵刚 (zhaogang,
manager) leads 孙悦 (sunyue) in another team; 周敏 (admin).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import wave
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image
from sqlalchemy import func, select

from bot.testing import BotHarness
from core.speech import Transcript
from domain.names import normalize
from storage.base import Base
from storage.models import AuditLog, Customer, KeyPerson, PersonalityTag, ProgressUpdate

T = TypeVar("T", bound=Base)
CST = "+08:00"


async def org(bot: BotHarness) -> None:
    await bot.add_user("admin", "周敏", roles=("admin",))
    await bot.add_user("liqiang", "李强", roles=("manager",))
    await bot.add_user("wanglei", "王磊", supervisor="liqiang")
    await bot.add_user("zhangting", "张婷", supervisor="liqiang")
    await bot.add_user("zhaogang", "赵刚", roles=("manager",), team="二组")
    await bot.add_user("sunyue", "孙悦", supervisor="zhaogang", team="二组")


async def add_customer(
    bot: BotHarness,
    name: str,
    owner: str,
    *,
    persons: Sequence[tuple[str, str, str, int | None]] = (
        ("采购科", "刘建国", "采购科主任", 10),
        ("设备科", "孙丽", "设备科科长", 75),
    ),
    shared: bool = False,
    region: str = "杭州市上城区",
    preferences: str = "",
    updates: Sequence[tuple[str, str, int]] = (),
) -> int:
    """A customer straight in the database; ``persons``: (role, name, title, days since contact);
    ``updates``: (progress, note, hours ago)."""
    now = bot.clock.now()
    owner_user = await bot.user(owner)
    async with bot.session() as session:
        customer = Customer(
            name=name,
            normalized_name=normalize(name),
            kind="三甲医院",
            grade="A（重点）",
            region=region,
            owner_id=owner_user.id,
            shared=shared,
            stage="proposal",
            status="active",
            profile_complete=len(persons) >= 2,
            preferences=preferences,
            lead_created_at=now - timedelta(days=100),
            last_update_at=None,
            created_at=now,
            updated_at=now,
        )
        session.add(customer)
        await session.flush()
        today = (now + timedelta(hours=8)).date()
        for role, person, title, days in persons:
            session.add(
                KeyPerson(
                    customer_id=customer.id,
                    role_group=role,
                    name=person,
                    title=title,
                    last_contact_on=None if days is None else today - timedelta(days=days),
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
        for progress, note, hours in updates:
            session.add(
                ProgressUpdate(
                    customer_id=customer.id,
                    rep_id=owner_user.id,
                    kind="visit_report",
                    progress=progress,
                    note=note,
                    valid=True,
                    created_at=now - timedelta(hours=hours),
                )
            )
        return customer.id


async def rows(bot: BotHarness, model: type[T], *where: Any) -> list[T]:
    async with bot.app.db.read() as session:
        stmt = select(model).where(*where).order_by(model.id)  # type: ignore[attr-defined]
        return list((await session.execute(stmt)).scalars())


async def one(bot: BotHarness, model: type[T], *where: Any) -> T:
    found = await rows(bot, model, *where)
    assert len(found) == 1, found
    return found[0]


async def audit_actions(bot: BotHarness) -> list[str]:
    return [a.action for a in await rows(bot, AuditLog)]


def local(day: date, hh: int, mm: int = 0) -> str:
    return f"{day.isoformat()}T{hh:02d}:{mm:02d}:00{CST}"


TODAY = date(2026, 11, 23)  # the harness starts Monday 2026-11-23 09:00 in Asia/Shanghai


def visit_fields(
    customer: str, start: tuple[int, int] = (10, 0), end: tuple[int, int] = (11, 0)
) -> dict[str, str]:
    return {
        "customer": customer,
        "start": local(TODAY, *start),
        "end": local(TODAY, *end),
        "purpose": "介绍新款骨科耗材",
    }


# -- speech ports --------------------------------------------------------------------------------
def voice_note(directory: Path, name: str, seconds: float = 1.0) -> Path:
    """A small WAV file (distinct content per name)."""
    path = directory / f"{name}.wav"
    frames = int(16000 * seconds)
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", (seed + i * 37) % 2000 - 1000) for i in range(frames)))
    path.write_bytes(buf.getvalue())
    return path


class ScriptedTranscriber:
    """Test double for the speech port: the transcript of each note is set by the test (by file stem),
    so flows can assert on exact words. The real model runs in tests/flows/test_voice_quote.py."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    async def transcribe(
        self, path: Path, *, audio_format: str = "", platform_recognition: str | None = None
    ) -> Transcript:
        data = await asyncio.to_thread(path.read_bytes)
        text = self.texts.get(_stem_for(data, self.texts), "")
        return Transcript(
            text=text,
            language="zh",
            duration_s=1.0,
            model_name="scripted",
            model_version="test",
            audio_path=str(path),
            audio_sha256=hashlib.sha256(data).hexdigest(),
            audio_format=audio_format or path.suffix.lstrip("."),
            platform_recognition=platform_recognition,
        )


_AUDIO: dict[str, str] = {}  # sha256 of a voice note → its stem


def _stem_for(data: bytes, texts: dict[str, str]) -> str:
    return _AUDIO.get(hashlib.sha256(data).hexdigest(), "")


def scripted_note(directory: Path, transcriber: ScriptedTranscriber, name: str, text: str) -> Path:
    path = voice_note(directory, name)
    _AUDIO[hashlib.sha256(path.read_bytes()).hexdigest()] = name
    transcriber.texts[name] = text
    return path


# -- photos ---------------------------------------------------------------------------------------
def exif_jpeg(
    path: Path,
    *,
    taken: str | None = "2026:11:23 10:42:05",
    lat: tuple[float, float, float] | None = (30, 15, 30.6),
    lon: tuple[float, float, float] | None = (120, 9, 54.0),
    size: tuple[int, int] = (640, 480),
) -> Path:
    """A small JPEG with EXIF DateTimeOriginal and GPS written by Pillow."""
    img = Image.new("RGB", size, (70, 120, 170))
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[36867] = taken
    if lat is not None and lon is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = "N", lat
        gps[3], gps[4] = "E", lon
    img.save(path, format="JPEG", exif=exif)
    return path


async def count(bot: BotHarness, model: type[T], *where: Any) -> int:
    async with bot.app.db.read() as session:
        stmt = select(func.count()).select_from(model).where(*where)
        return int((await session.execute(stmt)).scalar_one())


async def tags_of(bot: BotHarness, customer_id: int) -> list[str]:
    return [t.tag for t in await rows(bot, PersonalityTag, PersonalityTag.customer_id == customer_id)]
