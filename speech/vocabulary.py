"""The company's vocabulary, steering Mandarin recognition towards the words reps actually say.

Terms come from the database (customer names, key-person names, product codes), the forms' option
labels, the demand themes' keywords and an editable word list (``speech.vocabulary_file``). By default
they repair homophones after decoding (speech/homophones.py: the records, the themes and forms, and the
word list each have one weight, shared by their terms, so a long list weighs little per term). With
``speech.vocabulary_hotwords`` they are also given to the decoder as faster-whisper ``hotwords`` (text
placed before the transcript in Whisper's prompt). The prompt is bounded: at most
``speech.vocabulary_max_terms`` terms and ``speech.vocabulary_max_chars`` characters, taken in turn
from each source so no source crowds out the others; bench/vocabulary.py measures why (a long prompt
pushes its words into what was said).

A word list is read defensively: at most :data:`MAX_FILE_BYTES`, lines that are not UTF-8 skipped,
blank lines, comments and duplicates dropped, over-long lines refused, each with one warning line.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings, SpeechSettings
from domain.clustering import load_book
from speech.homophones import HomophoneFixer
from storage.models import Customer, CustomerStatus, KeyPerson, KeyPersonStatus, TrialFeedback

log = logging.getLogger("actionflow.speech")

MAX_FILE_BYTES = 2 * 1024 * 1024  # a word list larger than this is read only this far
MAX_TERM_CHARS = 24  # longer "terms" are sentences, not vocabulary
REFRESH_S = 600.0  # the vocabulary is rebuilt from the database at most this often
SEPARATOR = "、"


@dataclass(frozen=True)
class Vocabulary:
    terms: tuple[str, ...] = ()  # what goes into the prompt, bounded
    available: int = 0  # distinct terms before the bound
    warnings: tuple[str, ...] = ()
    built_at: float = field(default=0.0, compare=False)
    # Homophone repair against every term (not only those in the prompt), see speech/homophones.py.
    fixer: HomophoneFixer | None = field(default=None, compare=False)

    @property
    def hotwords(self) -> str:
        return SEPARATOR.join(self.terms)


def _clean(term: str) -> str:
    kept = "".join(ch for ch in term if unicodedata.category(ch)[0] != "C")
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", kept)).strip()


def read_word_list(path: Path) -> tuple[list[str], list[str]]:
    """Terms of a word list (one a line; ``#`` starts a comment) and warnings about what was skipped.

    Never raises for bad content: a missing or unreadable file is one warning and no terms."""
    warnings: list[str] = []
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return [], [f"vocabulary file {path} cannot be read ({exc.strerror or exc}); using none of it"]
    if len(raw) > MAX_FILE_BYTES:
        raw = raw[:MAX_FILE_BYTES].rsplit(b"\n", 1)[0]
        warnings.append(
            f"vocabulary file {path} is larger than {MAX_FILE_BYTES // 1024} KB; read only that far"
        )
    terms: list[str] = []
    seen: set[str] = set()
    not_utf8 = blank = duplicate = too_long = 0
    for line in raw.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            not_utf8 += 1
            continue
        term = _clean(text.split("#", 1)[0])
        if not term:
            blank += 1
            continue
        if len(term) > MAX_TERM_CHARS:
            too_long += 1
            continue
        if term in seen:
            duplicate += 1
            continue
        seen.add(term)
        terms.append(term)
    if not_utf8:
        warnings.append(f"vocabulary file {path}: {not_utf8} line(s) are not UTF-8 and were skipped")
    if too_long:
        warnings.append(
            f"vocabulary file {path}: {too_long} line(s) longer than {MAX_TERM_CHARS} characters were skipped"
        )
    if duplicate:
        warnings.append(f"vocabulary file {path}: {duplicate} duplicate line(s) ignored")
    del blank  # empty lines and comments are normal in a hand-edited list
    return terms, warnings


def _cleaned(*sources: Iterable[str]) -> tuple[str, ...]:
    return tuple(t for source in sources for t in (_clean(x) for x in source) if t)


_last_fixer: dict[tuple[tuple[str, ...], ...], HomophoneFixer] = {}


def _fixer(records: tuple[str, ...], config: tuple[str, ...], listed: tuple[str, ...]) -> HomophoneFixer:
    """The repair for these terms; the last one is kept, so a refresh that changed nothing is free."""
    key = (records, config, listed)
    fixer = _last_fixer.get(key)
    if fixer is None:
        fixer = HomophoneFixer.build(records, config=config, listed=listed)
        _last_fixer.clear()
        _last_fixer[key] = fixer
    return fixer


def form_options(path: Path) -> list[str]:
    """Option labels of every choice field in the forms file (read as TOML, nothing else assumed)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.warning("vocabulary: cannot read form options from %s: %s", path, exc)
        return []
    labels: list[str] = []
    for form in (data.get("forms") or {}).values():
        for spec in form.get("fields", []) if isinstance(form, dict) else []:
            labels += [str(o) for o in spec.get("options", []) if isinstance(o, str)]
    return labels


def theme_keywords(path: Path | None) -> list[str]:
    """The themes' keywords, heaviest first (weights are the dictionary's own; "词:2" gives 词)."""
    try:
        book = load_book(path)
    except (OSError, ValueError) as exc:
        log.warning("vocabulary: cannot read the theme keywords: %s", exc)
        return []
    weighted = [(w, kw) for theme in book.themes for kw, w in theme.keywords]
    return [kw for _, kw in sorted(weighted, key=lambda x: -x[0])]


def select_terms(
    sources: Sequence[Iterable[str]], *, max_terms: int, max_chars: int
) -> tuple[list[str], int]:
    """Take terms in turn from each source (first source first) until either bound; returns the terms
    and how many distinct terms there were in all."""
    lists = [[t for t in (_clean(x) for x in source) if 1 < len(t) <= MAX_TERM_CHARS] for source in sources]
    distinct = len({t for terms in lists for t in terms})
    chosen: list[str] = []
    seen: set[str] = set()
    used = 0
    index = [0] * len(lists)
    while len(chosen) < max_terms and any(i < len(terms) for i, terms in zip(index, lists, strict=True)):
        for n, terms in enumerate(lists):
            while index[n] < len(terms) and terms[index[n]] in seen:
                index[n] += 1
            if index[n] >= len(terms):
                continue
            term = terms[index[n]]
            index[n] += 1
            cost = len(term) + (len(SEPARATOR) if chosen else 0)
            if used + cost > max_chars or len(chosen) >= max_terms:
                continue
            chosen.append(term)
            seen.add(term)
            used += cost
    return chosen, distinct


async def database_terms(session: AsyncSession, limit: int = 2000) -> tuple[list[str], list[str], list[str]]:
    """Customer names (recently updated first), key-person names, product codes."""
    customers = (
        await session.execute(
            select(Customer.name)
            .where(Customer.status == CustomerStatus.ACTIVE)
            .order_by(Customer.last_update_at.desc().nulls_last(), Customer.id.desc())
            .limit(limit)
        )
    ).scalars()
    persons = (
        await session.execute(
            select(KeyPerson.name)
            .where(KeyPerson.status == KeyPersonStatus.ACTIVE)
            .order_by(KeyPerson.last_contact_on.desc().nulls_last())
            .limit(limit)
        )
    ).scalars()
    products = (
        await session.execute(
            select(TrialFeedback.product_code).group_by(TrialFeedback.product_code).limit(limit)
        )
    ).scalars()
    return list(customers), list(persons), list(products)


def build(
    speech: SpeechSettings,
    *,
    customers: Sequence[str] = (),
    persons: Sequence[str] = (),
    products: Sequence[str] = (),
    options: Sequence[str] = (),
    keywords: Sequence[str] = (),
) -> Vocabulary:
    """The bounded vocabulary from its sources, in the order they are taken: the word list (an admin
    chose it), the extra hotwords setting, product codes, customers, key people, theme keywords, form
    options."""
    warnings: list[str] = []
    listed: list[str] = []
    if speech.vocabulary_file is not None:
        listed, warnings = read_word_list(Path(speech.vocabulary_file))
    extra = speech.hotwords.split()
    sources = [listed, extra, products, customers, persons, keywords, options]
    terms, available = select_terms(
        sources, max_terms=speech.vocabulary_max_terms, max_chars=speech.vocabulary_max_chars
    )
    fixer = None
    if speech.homophone_repair:
        # the company's records and configuration weigh more than the word list (speech/homophones.py)
        fixer = _fixer(
            _cleaned(extra, products, customers, persons), _cleaned(keywords, options), _cleaned(listed)
        )
    if available > len(terms):
        warnings.append(
            f"vocabulary: {available} terms available, {len(terms)} used (bounded by "
            f"speech.vocabulary_max_terms={speech.vocabulary_max_terms} and "
            f"vocabulary_max_chars={speech.vocabulary_max_chars})"
        )
    return Vocabulary(tuple(terms), available, tuple(warnings), time.monotonic(), fixer)


async def load(session: AsyncSession, settings: Settings) -> Vocabulary:
    """The company's vocabulary now (database, forms, themes, word list), bounded, warnings logged."""
    speech = settings.speech
    explicit = tuple(speech.hotwords.split())  # speech.hotwords always go into the prompt
    if not speech.vocabulary:
        return Vocabulary(explicit, len(explicit), (), time.monotonic())
    customers, persons, products = await database_terms(session)

    def assemble() -> Vocabulary:  # file reading and the pinyin index: off the event loop
        return build(
            speech,
            customers=customers,
            persons=persons,
            products=products,
            options=form_options(settings.forms.path),
            keywords=theme_keywords(settings.themes.path),
        )

    vocabulary = await asyncio.to_thread(assemble)
    if not speech.vocabulary_hotwords:  # the default: the vocabulary only repairs homophones
        kept = tuple(w for w in vocabulary.warnings if not w.startswith("vocabulary: "))
        vocabulary = replace(vocabulary, terms=explicit, warnings=kept)
    for warning in vocabulary.warnings:
        if warning not in _warned:  # once per process, not at every refresh
            _warned.add(warning)
            log.warning(warning)
    return vocabulary


_warned: set[str] = set()
