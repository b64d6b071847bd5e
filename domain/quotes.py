"""The verbatim-quote ledger's rules below the speech layer: what each entry's hash covers, which text is
the quote's text, when a recognition is doubtful, and the annotation chain (corrections and flags).

Quotes (``quotes``) and their annotations (``quote_annotations``) are two append-only hash chains. An
annotation's hash also covers the hash of the quote it is about, so it cannot be moved to another quote.
What people read is rebuilt from the ledger here (:func:`load_views`) and shown one way everywhere
(:func:`render_quote`); the copy a demand keeps (``demands.text``) is compared with it: a copy that
differs is shown as 已被改动.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pypinyin import lazy_pinyin
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.speech import NO_LOCAL_MODEL
from storage.db import serialise_appends
from storage.models import Quote, QuoteAnnotation, User

GENESIS = "0" * 64
ANNOTATIONS_LOCK_KEY = 0x41465155_4F544541 & 0x7FFF_FFFF_FFFF_FFFF  # "AFQUOTEA": advisory lock id

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
ANNOTATION_HASHED_FIELDS = (
    "seq",
    "prev_hash",
    "created_at",
    "quote_id",
    "quote_hash",
    "author_id",
    "kind",
    "text",
)

CORRECTION = "correction"  # a rep's 销售更正
DOUBT = "doubt"  # the system's 转写可能不准 flag, recorded with the quote
SUPERSEDED = "superseded"  # the rep went back (返回) and recorded the words again: text "#<new quote id>"

# Doubt thresholds. Whisper's own fallback thresholds are avg log-probability < -1.0 and compression
# ratio > 2.4. On this project's 39 neural-voice notes (bench/vocabulary.py) no note scored below -0.5;
# the six below -0.35 had CERs 0.50, 0.44, 0.35, 0.31, 0.27 and 0.06, the notes without an error scored
# -0.14 to -0.23. So -0.35 flags mostly bad notes, though it misses about half of them (docs/speech.md).
# Both measure the local model's own output: they say nothing about a platform text shown instead.
LOGPROB_THRESHOLD = -0.35
COMPRESSION_THRESHOLD = 2.4
# Platform and local texts are compared by sound (toneless pinyin, numbers read out), because the local
# model's errors are mostly homophones (器械→气泄). On the 39 notes (bench/doubt.py) a correct platform
# text is at most 0.25 from the local transcript (median 0.05); a text whose second half is another
# sentence's is at least 0.41 away, another sentence altogether at least 0.67 (docs/speech.md).
DISAGREEMENT_THRESHOLD = 0.35


def _value(name: str, value: Any) -> Any:
    if name == "created_at":
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if name == "duration_s":
        return f"{value:.3f}"
    return value


def _digest(row: Any, fields: tuple[str, ...]) -> str:
    payload = {name: _value(name, getattr(row, name)) for name in fields}
    raw = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def canonical(quote: Quote) -> bytes:
    """The bytes a quote's hash is taken over: sorted-key compact JSON, UTF-8, times in UTC."""
    payload = {name: _value(name, getattr(quote, name)) for name in HASHED_FIELDS}
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def compute_hash(quote: Quote) -> str:
    return hashlib.sha256(canonical(quote)).hexdigest()


def annotation_hash(note: QuoteAnnotation) -> str:
    return _digest(note, ANNOTATION_HASHED_FIELDS)


def head_token(quote_seq: int, quote_hash: str, annotation_seq: int, annotation_hash_: str) -> str:
    """One string that pins both chains at a moment: ``<quote seq>.<annotation seq>.<sha256>``.

    Kept outside the database (the admins' chat, the log), it lets ``audit verify --head`` detect the
    removal of the newest entries and the re-hashing of a chain, which the chain alone cannot show."""
    digest = hashlib.sha256(f"{quote_hash}:{annotation_hash_}".encode()).hexdigest()
    return f"{quote_seq}.{annotation_seq}.{digest}"


def parse_head(token: str) -> tuple[int, int, str] | None:
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    digest = parts[2].lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        return None
    return int(parts[0]), int(parts[1]), digest


# -- which text is the quote's text -------------------------------------------------------------
def quote_text(transcript: str, platform: str | None) -> tuple[str, str]:
    """The quote's text and where it came from (``platform`` or ``local``).

    Rule: the platform's own recognition when the message carried a non-empty one, else the local
    transcript. On this project's samples the local base model gets about one character in five wrong,
    mostly homophones of domain words; the platforms' server-side recognisers are larger models that know
    those words (docs/speech.md has the measurements). The other text stays in the ledger entry and is
    shown with ``原话 #编号``."""
    if platform and platform.strip():
        return platform.strip(), "platform"
    return transcript.strip(), "local"


_DIGITS = "零一二三四五六七八九"
_UNITS = ("", "十", "百", "千")
_GROUPS = ("", "万", "亿", "万亿")  # numbers are read in groups of four digits: 20000 → 二万
_NUMBER = re.compile(r"(\d+)(?:\.(\d+))?\s*([%％])?")


def _group_reading(digits: str) -> str:
    """Up to four digits as said inside a number: 「0105」 → 一百零五 (a zero before the first digit is not
    said here; the caller decides)."""
    out, gap = "", False
    for i, d in enumerate(digits):
        value, unit = int(d), _UNITS[len(digits) - 1 - i]
        if value == 0:
            gap = bool(out)
            continue
        out += ("零" if gap else "") + _DIGITS[value] + unit
        gap = False
    return out


def _integer_reading(digits: str) -> str:
    """「15」 → 十五, 「105」 → 一百零五, 「20000」 → 二万, 「10005」 → 一万零五, as a number is said; longer
    numbers than 万亿 (and leading zeros) digit by digit."""
    if len(digits) > 4 * len(_GROUPS) or (len(digits) > 1 and digits[0] in "0０"):
        return "".join(_DIGITS[int(d)] for d in digits)
    head = len(digits) % 4 or 4
    groups = [digits[:head]] + [digits[i : i + 4] for i in range(head, len(digits), 4)]
    out, gap = "", False
    for i, group in enumerate(groups):
        if int(group) == 0:
            gap = bool(out)
            continue
        zero = bool(out) and (gap or group[0] in "0０")  # 10005 → 一万零五, 100000005 → 一亿零五
        out += ("零" if zero else "") + _group_reading(group) + _GROUPS[len(groups) - 1 - i]
        gap = False
    out = out or "零"
    return out[1:] if out.startswith("一十") else out


def _read_numbers(text: str) -> str:
    """Numbers written as digits read out in Chinese (15% → 百分之十五, 20000 → 二万), as a recogniser may
    write them."""

    def spoken(m: re.Match[str]) -> str:
        said = _integer_reading(m.group(1))
        if m.group(2):
            said += "点" + "".join(_DIGITS[int(d)] for d in m.group(2))
        return "百分之" + said if m.group(3) else said

    return _NUMBER.sub(spoken, text)


def _norm(value: str) -> str:
    return "".join(ch for ch in value if ch.isalnum()).casefold()


_OTHER = "\0"  # marks what pypinyin returns for letters and digits that are not Chinese


def _sounds(value: str) -> list[str]:
    """The text as toneless syllables: each Chinese character its pinyin, any other letter or digit itself."""
    syllables: list[str] = []
    said = _norm(_read_numbers(value)).replace("两", "二")  # 两万 and 二万 are one number: liang is er
    for token in lazy_pinyin(said, errors=lambda rest: _OTHER + rest):
        syllables.extend(token[1:] if token.startswith(_OTHER) else [token])  # other letters one by one
    return syllables


def disagreement(a: str, b: str) -> float:
    """How far apart two recognitions of one note are: edit distance over their syllables (toneless
    pinyin, numbers read out, punctuation ignored) divided by the longer one's length. Homophones
    (器械/气泄) and 15%/百分之十五 cost nothing; different words do."""
    x, y = _sounds(a), _sounds(b)
    longest = max(len(x), len(y))
    return Levenshtein.distance(x, y) / longest if longest else 0.0


def doubt_reasons(
    *,
    transcript: str,
    platform: str | None,
    avg_logprob: float | None,
    compression_ratio: float | None,
) -> list[str]:
    """Why a recognition is doubtful (empty when it is not): short Chinese phrases for the rep.

    The local model's confidence and repetition are about its own text, so they count only when that
    text is the quote's; with the platform's text shown, only a clear difference between the two does."""
    reasons: list[str] = []
    _, source = quote_text(transcript, platform)
    if source == "local" and avg_logprob is not None and avg_logprob < LOGPROB_THRESHOLD:
        reasons.append("识别置信度低")
    if source == "local" and compression_ratio is not None and compression_ratio > COMPRESSION_THRESHOLD:
        reasons.append("转写有重复")
    far_apart = source == "platform" and bool(transcript.strip())
    if far_apart and disagreement(transcript, platform or "") > DISAGREEMENT_THRESHOLD:
        reasons.append("平台识别与本地转写差别较大")
    return reasons


# -- the annotation chain ----------------------------------------------------------------------
async def append_annotation(
    session: AsyncSession,
    *,
    quote: Quote,
    kind: str,
    text_: str,
    now: datetime,
    author_id: int | None,
) -> QuoteAnnotation:
    """Append a correction or flag about ``quote``; the quote itself stays as recorded."""
    await serialise_appends(session, ANNOTATIONS_LOCK_KEY)
    last = (
        await session.execute(
            select(QuoteAnnotation.seq, QuoteAnnotation.hash)
            .where(QuoteAnnotation.seq.is_not(None))
            .order_by(QuoteAnnotation.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev_hash = (int(last[0] or 0) + 1, str(last[1])) if last is not None else (1, GENESIS)
    note = QuoteAnnotation(
        seq=seq,
        prev_hash=prev_hash,
        created_at=now.astimezone(UTC),
        quote_id=quote.id,
        quote_hash=quote.hash,
        author_id=author_id,
        kind=kind,
        text=text_,
    )
    note.hash = annotation_hash(note)
    session.add(note)
    await session.flush()
    return note


# -- what people read -------------------------------------------------------------------------
@dataclass(frozen=True)
class Correction:
    text: str
    author: str
    created_at: datetime


@dataclass
class QuoteView:
    """A quote as people see it, rebuilt from the ledger."""

    quote_id: int
    rep_id: int
    text: str  # the quote's text by the rule of :func:`quote_text`
    source: str  # platform | local
    transcript: str
    platform: str | None
    intact: bool  # the ledger row still matches its own hash
    corrections: list[Correction] = field(default_factory=list)
    doubtful: bool = False
    superseded_by: int | None = None  # the quote recorded again in its place (the form's 返回)
    local: bool = True  # a local model transcribed it (False: none was available; the text is the platform's)

    @property
    def correction(self) -> Correction | None:
        """The latest correction (earlier ones stay in the ledger)."""
        return self.corrections[-1] if self.corrections else None


async def load_views(session: AsyncSession, quote_ids: Iterable[int | None]) -> dict[int, QuoteView]:
    ids = {int(i) for i in quote_ids if i}
    if not ids:
        return {}
    quotes = (await session.execute(select(Quote).where(Quote.id.in_(ids)))).scalars().all()
    views: dict[int, QuoteView] = {}
    for q in quotes:
        shown, source = quote_text(q.transcript, q.platform_recognition)
        views[q.id] = QuoteView(
            quote_id=q.id,
            rep_id=q.rep_id,
            text=shown,
            source=source,
            transcript=q.transcript,
            platform=q.platform_recognition,
            intact=compute_hash(q) == q.hash,
            local=q.model_name != NO_LOCAL_MODEL,
        )
    notes = (
        await session.execute(
            select(QuoteAnnotation, User.name)
            .outerjoin(User, User.id == QuoteAnnotation.author_id)
            .where(QuoteAnnotation.quote_id.in_(ids))
            .order_by(QuoteAnnotation.seq, QuoteAnnotation.id)
        )
    ).all()
    for note, author in notes:
        view = views.get(note.quote_id)
        if view is None:
            continue
        if (
            note.hash is None
            or annotation_hash(note) != note.hash
            or note.quote_hash != _hash_of(quotes, note)
        ):
            view.intact = False
            continue
        if note.kind == DOUBT:
            view.doubtful = True
        elif note.kind == CORRECTION:
            view.corrections.append(Correction(note.text, author or "", note.created_at))
        elif note.kind == SUPERSEDED and note.text.lstrip("#").isdigit():
            view.superseded_by = int(note.text.lstrip("#"))
    return views


def _hash_of(quotes: Iterable[Quote], note: QuoteAnnotation) -> str | None:
    return next((q.hash for q in quotes if q.id == note.quote_id), None)


def shown_text(view: QuoteView | None, copy: str) -> tuple[str, bool]:
    """The text to show for a demand whose stored copy is ``copy``, and whether it was changed.

    With a ledger quote the ledger's text is shown; a copy that no longer matches it (or a ledger row
    that no longer matches its hash) is reported as changed. Without a quote the copy is all there is."""
    if view is None:
        return copy, False
    return view.text, (not view.intact) or copy.strip() != view.text


def render_quote(view: QuoteView | None, copy: str | None = None, *, marks: str = "“”") -> str:
    """A quote as everyone reads it: chat (profile, visit brief, 需求主题), the theme alert and the board
    (which HTML-escapes it). The one place that decides how a quote and its notes look.

    ``view`` is the ledger's view of the quote (None: a demand without a quote, only ``copy`` exists);
    ``copy`` is the text a demand keeps (None: nothing to compare with). The text follows the rule of
    :func:`quote_text`, inside ``marks``; then, in one pair of brackets, what is wrong with the original
    (已被改动, 转写可能不准, recorded again); then the rep's latest correction with its author:

    ``“我们颗是最头疼的是气泄包…”（转写可能不准），销售更正（王磊）：“我们科室最头疼的是器械包…”``
    """
    open_, close = marks[0], marks[-1]
    if view is None:
        return f"{open_}{(copy or '').strip()}{close}"
    changed = (not view.intact) or (copy is not None and shown_text(view, copy)[1])
    flags: list[str] = []
    if changed:
        flags.append("⚠️ 已被改动，以账本原文为准")
    if view.doubtful:
        flags.append("转写可能不准")
    if view.superseded_by is not None:
        flags.append(f"已由原话 #{view.superseded_by} 取代，本条保留")
    line = f"{open_}{view.text}{close}" + ("（" + "；".join(flags) + "）" if flags else "")
    fix = view.correction
    if fix is not None:
        line += f"，销售更正{f'（{fix.author}）' if fix.author else ''}：{open_}{fix.text}{close}"
    return line
