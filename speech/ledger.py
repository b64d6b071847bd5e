"""The verbatim-quote ledger: each quote is appended with a SHA-256 over a canonical serialisation of all
its fields, chained to the previous quote's hash. ``verify_chain`` recomputes it and names the first
broken link. Quotes are never edited or deleted (the ORM and the database both refuse); a correction is a
:class:`QuoteAnnotation` linked to the quote.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.speech import Transcript
from domain.quotes import (
    ANNOTATION_HASHED_FIELDS,
    CORRECTION,
    DOUBT,
    GENESIS,
    HASHED_FIELDS,
    annotation_hash,
    append_annotation,
    canonical,
    compute_hash,
    doubt_reasons,
    head_token,
    parse_head,
    quote_text,
)
from storage.db import serialise_appends
from storage.models import Demand, Quote, QuoteAnnotation

__all__ = [
    "ANNOTATION_HASHED_FIELDS",
    "GENESIS",
    "HASHED_FIELDS",
    "QuoteLedger",
    "annotate",
    "append",
    "canonical",
    "compute_hash",
    "verify_chain",
]

LEDGER_LOCK_KEY = 0x41465155_4F544553 & 0x7FFF_FFFF_FFFF_FFFF  # "AFQUOTES": PostgreSQL advisory lock id


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
        reasons = doubt_reasons(
            transcript=transcript.text,
            platform=transcript.platform_recognition,
            avg_logprob=transcript.avg_logprob,
            compression_ratio=transcript.compression_ratio,
        )
        if reasons:  # the flag is part of the ledger too, so it is shown wherever the quote is
            await append_annotation(
                session, quote=quote, kind=DOUBT, text_="；".join(reasons), now=now, author_id=None
            )
        return quote.id


async def append(
    session: AsyncSession,
    *,
    now: datetime,
    transcript: Transcript,
    rep_id: int,
    customer_id: int | None = None,
    visit_id: int | None = None,
) -> Quote:
    await serialise_appends(session, LEDGER_LOCK_KEY)
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
    session: AsyncSession,
    *,
    quote_id: int,
    text: str,
    now: datetime,
    author_id: int | None = None,
    kind: str = CORRECTION,
) -> QuoteAnnotation:
    """Append a correction or remark about a quote to the annotation chain; the quote stays as recorded."""
    quote = await session.get(Quote, quote_id)
    if quote is None:
        raise LookupError(f"no quote {quote_id}")
    return await append_annotation(session, quote=quote, kind=kind, text_=text, now=now, author_id=author_id)


@dataclass(frozen=True)
class BrokenLink:
    quote_id: int | None
    seq: int
    reason: str
    chain: str = "quote"  # quote | annotation

    def describe(self) -> str:
        if self.chain == "annotation":
            return f"annotation seq {self.seq}: {self.reason}"
        which = f"quote {self.quote_id} (seq {self.seq})" if self.quote_id is not None else f"seq {self.seq}"
        return f"{which}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None
    audio_checked: int = 0
    annotations: int = 0
    annotation_head_hash: str = GENESIS
    changed_copies: tuple[str, ...] = ()  # demands whose stored text differs from their ledger quote
    head_problem: str | None = None  # the remembered head (``--head``) does not match

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.changed_copies and self.head_problem is None

    @property
    def head(self) -> str:
        """The token to keep outside the database (see :func:`domain.quotes.head_token`)."""
        return head_token(self.head_seq, self.head_hash, self.annotations, self.annotation_head_hash)


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


def _note_problem(
    note: QuoteAnnotation, expected_seq: int, prev_hash: str, quote_hash: str | None
) -> str | None:
    if note.seq is None or note.hash is None:
        return f"annotation {note.id} is outside the chain (inserted around the ledger)"
    if note.seq != expected_seq:
        return f"expected seq {expected_seq} here: annotation(s) {expected_seq}–{note.seq - 1} are missing"
    if note.prev_hash != prev_hash:
        return f"its prev_hash does not match the hash of annotation seq {expected_seq - 1}"
    if annotation_hash(note) != note.hash:
        return "its contents do not match its hash (the row was changed)"
    if quote_hash is None:
        return f"it is about quote {note.quote_id}, which is missing"
    if note.quote_hash != quote_hash:
        return f"it was written about another version of quote {note.quote_id}"
    return None


async def _verify_quotes(
    session: AsyncSession, *, check_audio: bool, batch: int, remembered: dict[int, str]
) -> tuple[int, str, BrokenLink | None, int]:
    """The quote chain: (count verified, head hash, first broken link, audio files checked).
    ``remembered`` collects the hash at the seqs it names (for ``--head``)."""
    count, prev_hash, audio = 0, GENESIS, 0
    while True:
        query = select(Quote).where(Quote.seq > count).order_by(Quote.seq).limit(batch)
        rows = (await session.execute(query)).scalars().all()
        if not rows:
            return count, prev_hash, None, audio
        for quote in rows:
            problem = _link_problem(quote, count + 1, prev_hash)
            if problem is None and check_audio:
                audio += 1
                problem = _audio_problem(quote)
            if problem is not None:
                return count, prev_hash, BrokenLink(quote.id, quote.seq, problem), audio
            count += 1
            prev_hash = quote.hash
            if count in remembered:
                remembered[count] = prev_hash
        session.expunge_all()


async def _verify_annotations(
    session: AsyncSession, *, batch: int, remembered: dict[int, str]
) -> tuple[int, str, BrokenLink | None]:
    outside = (
        await session.execute(select(QuoteAnnotation).where(QuoteAnnotation.seq.is_(None)).limit(1))
    ).scalar_one_or_none()
    if outside is not None:
        reason = _note_problem(outside, 0, GENESIS, None) or ""
        return 0, GENESIS, BrokenLink(outside.quote_id, 0, reason, "annotation")
    count, prev_hash = 0, GENESIS
    while True:
        query = (
            select(QuoteAnnotation, Quote.hash)
            .outerjoin(Quote, Quote.id == QuoteAnnotation.quote_id)
            .where(QuoteAnnotation.seq > count)
            .order_by(QuoteAnnotation.seq)
            .limit(batch)
        )
        rows = (await session.execute(query)).all()
        if not rows:
            return count, prev_hash, None
        for note, quote_hash in rows:
            problem = _note_problem(note, count + 1, prev_hash, quote_hash)
            if problem is not None:
                return count, prev_hash, BrokenLink(note.quote_id, int(note.seq or 0), problem, "annotation")
            count += 1
            prev_hash = str(note.hash)
            if count in remembered:
                remembered[count] = prev_hash
        session.expunge_all()


async def changed_copies(session: AsyncSession, batch: int = 1000) -> list[str]:
    """Demands whose stored text no longer matches the quote text of their ledger entry."""
    found: list[str] = []
    last = 0
    while True:
        rows = (
            await session.execute(
                select(Demand.id, Demand.text, Quote.id, Quote.transcript, Quote.platform_recognition)
                .join(Quote, Quote.id == Demand.quote_id)
                .where(Demand.id > last)
                .order_by(Demand.id)
                .limit(batch)
            )
        ).all()
        if not rows:
            return found
        for demand_id, copy, quote_id, transcript, platform in rows:
            last = int(demand_id)
            if (copy or "").strip() != quote_text(transcript, platform)[0]:
                found.append(f"demand {demand_id}: its text differs from quote {quote_id} in the ledger")


def _head_problem(
    token: str, report: ChainReport, quotes_at: dict[int, str], notes_at: dict[int, str]
) -> str | None:
    parsed = parse_head(token)
    if parsed is None:
        return "the remembered head is not of the form <quote seq>.<annotation seq>.<64 hex digits>"
    q_seq, a_seq, _ = parsed
    if q_seq > report.head_seq or a_seq > report.annotations:
        return (
            f"the remembered head has {q_seq} quote(s) and {a_seq} annotation(s); the ledger now verifies "
            f"only {report.head_seq} and {report.annotations}: entries were removed from the end"
        )
    q_hash = quotes_at.get(q_seq, GENESIS) if q_seq else GENESIS
    a_hash = notes_at.get(a_seq, GENESIS) if a_seq else GENESIS
    if head_token(q_seq, q_hash, a_seq, a_hash) != token.strip().lower():
        return (
            f"the ledger up to quote seq {q_seq} and annotation seq {a_seq} is not the one remembered: "
            "entries up to there were rewritten and the chain re-hashed"
        )
    return None


async def verify_chain(
    session: AsyncSession, *, check_audio: bool = False, batch: int = 500, head: str | None = None
) -> ChainReport:
    """Recompute every hash of both chains in ``seq`` order (stopping at the first broken link), compare
    each demand's stored text with its ledger quote, and, with ``head``, check that the ledger still
    contains the remembered head unchanged.

    ``check_audio`` also re-hashes each stored audio file (``audit verify --audio``).
    """
    parsed = parse_head(head) if head else None
    quotes_at: dict[int, str] = {parsed[0]: GENESIS} if parsed else {}
    notes_at: dict[int, str] = {parsed[1]: GENESIS} if parsed else {}
    count, q_head, broken, audio = await _verify_quotes(
        session, check_audio=check_audio, batch=batch, remembered=quotes_at
    )
    notes, a_head, a_broken = 0, GENESIS, None
    if broken is None:
        notes, a_head, a_broken = await _verify_annotations(session, batch=batch, remembered=notes_at)
    report = ChainReport(
        count,
        count,
        q_head,
        broken or a_broken,
        audio,
        notes,
        a_head,
        tuple(await changed_copies(session)),
    )
    if head is not None and report.broken is None:
        problem = _head_problem(head, report, quotes_at, notes_at)
        if problem is not None:
            return ChainReport(
                report.count,
                report.head_seq,
                report.head_hash,
                None,
                audio,
                notes,
                a_head,
                report.changed_copies,
                problem,
            )
    return report


async def ledger_size(session: AsyncSession) -> tuple[int, int]:
    quotes = (await session.execute(select(func.count()).select_from(Quote))).scalar_one()
    notes = (await session.execute(select(func.count()).select_from(QuoteAnnotation))).scalar_one()
    return int(quotes), int(notes)
