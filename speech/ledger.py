"""The verbatim-quote ledger: each quote is appended with a SHA-256 over a canonical serialisation of all
its fields, chained to the previous quote's hash. ``verify_chain`` recomputes it and names the first
broken link. Quotes are never edited or deleted (the ORM and the database both refuse); a correction is a
:class:`QuoteAnnotation` linked to the quote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.speech import Transcript
from storage.models import Quote, QuoteAnnotation

GENESIS = "0" * 64
LEDGER_LOCK_KEY = 0x41465155_4F544553 & 0x7FFF_FFFF_FFFF_FFFF  # "AFQUOTES": PostgreSQL advisory lock id

# The fields covered by a quote's hash, in the order they are documented (docs/speech.md).
HASHED_FIELDS = (
    "seq",
    "prev_hash",
    "created_at",
    "rep_id",
    "customer_id",
    "visit_id",
    "audio_sha256",
    "audio_path",
    "audio_format",
    "duration_s",
    "language",
    "model_name",
    "model_version",
    "transcript",
    "platform_recognition",
)


def _value(name: str, value: Any) -> Any:
    if name == "created_at":
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if name == "duration_s":
        return f"{value:.3f}"
    return value


def canonical(quote: Quote) -> bytes:
    """The bytes a quote's hash is taken over: sorted-key compact JSON, UTF-8, times in UTC."""
    payload = {name: _value(name, getattr(quote, name)) for name in HASHED_FIELDS}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def compute_hash(quote: Quote) -> str:
    return hashlib.sha256(canonical(quote)).hexdigest()


class QuoteLedger:
    """The :class:`~handlers.context.QuoteRecorder` port: appends a quote in the caller's transaction."""

    async def record(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        transcript: Transcript,
        rep_id: int,
        customer_id: int | None,
        visit_id: int | None,
    ) -> int:
        quote = await append(
            session,
            now=now,
            transcript=transcript,
            rep_id=rep_id,
            customer_id=customer_id,
            visit_id=visit_id,
        )
        return quote.id


async def _lock(session: AsyncSession) -> None:
    """Serialise appends: SQLite's BEGIN IMMEDIATE already does; PostgreSQL takes a transaction lock."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LEDGER_LOCK_KEY})


async def append(
    session: AsyncSession,
    *,
    now: datetime,
    transcript: Transcript,
    rep_id: int,
    customer_id: int | None = None,
    visit_id: int | None = None,
) -> Quote:
    await _lock(session)
    last = (await session.execute(select(Quote.seq, Quote.hash).order_by(Quote.seq.desc()).limit(1))).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last is not None else (1, GENESIS)
    quote = Quote(
        seq=seq,
        prev_hash=prev_hash,
        # Stored at the precision both backends keep exactly (microseconds, UTC).
        created_at=now.astimezone(UTC),
        rep_id=rep_id,
        customer_id=customer_id,
        visit_id=visit_id,
        audio_sha256=transcript.audio_sha256,
        audio_path=transcript.audio_path,
        audio_format=transcript.audio_format[:20],
        duration_s=round(float(transcript.duration_s), 3),
        language=transcript.language[:10],
        model_name=transcript.model_name[:100],
        model_version=transcript.model_version[:100],
        transcript=transcript.text,
        platform_recognition=transcript.platform_recognition,
    )
    quote.hash = compute_hash(quote)
    session.add(quote)
    await session.flush()
    return quote


async def annotate(
    session: AsyncSession, *, quote_id: int, text: str, now: datetime, author_id: int | None = None
) -> QuoteAnnotation:
    """Attach a correction or remark to a quote; the quote itself stays as recorded."""
    if await session.get(Quote, quote_id) is None:
        raise LookupError(f"no quote {quote_id}")
    note = QuoteAnnotation(quote_id=quote_id, author_id=author_id, text=text, created_at=now)
    session.add(note)
    await session.flush()
    return note


@dataclass(frozen=True)
class BrokenLink:
    quote_id: int | None
    seq: int
    reason: str

    def describe(self) -> str:
        which = f"quote {self.quote_id} (seq {self.seq})" if self.quote_id is not None else f"seq {self.seq}"
        return f"{which}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None
    audio_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.broken is None


def _audio_problem(quote: Quote) -> str | None:
    path = Path(quote.audio_path)
    if not path.is_file():
        return f"its audio file {path} is missing"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != quote.audio_sha256:
        return f"its audio file {path} does not match the recorded SHA-256"
    return None


def _link_problem(quote: Quote, expected_seq: int, prev_hash: str) -> str | None:
    if quote.seq != expected_seq:
        return (
            f"expected seq {expected_seq} here: quote(s) {expected_seq}–{quote.seq - 1} are missing (deleted)"
        )
    if quote.prev_hash != prev_hash:
        return (
            f"its prev_hash does not match the hash of seq {expected_seq - 1} "
            "(that quote was rewritten, or this one was)"
        )
    if compute_hash(quote) != quote.hash:
        return "its contents do not match its hash (the row was changed)"
    return None


async def verify_chain(session: AsyncSession, *, check_audio: bool = False, batch: int = 500) -> ChainReport:
    """Recompute every hash in ``seq`` order; stop at the first broken link.

    ``check_audio`` also re-hashes each stored audio file (``audit verify --audio``).
    """
    count, prev_hash, audio = 0, GENESIS, 0
    while True:
        query = select(Quote).where(Quote.seq > count).order_by(Quote.seq).limit(batch)
        rows = (await session.execute(query)).scalars().all()
        if not rows:
            return ChainReport(count, count, prev_hash, None, audio)
        for quote in rows:
            problem = _link_problem(quote, count + 1, prev_hash)
            if problem is None and check_audio:
                audio += 1
                problem = _audio_problem(quote)
            if problem is not None:
                return ChainReport(count, count, prev_hash, BrokenLink(quote.id, quote.seq, problem), audio)
            count += 1
            prev_hash = quote.hash
        session.expunge_all()
