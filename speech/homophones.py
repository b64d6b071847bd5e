"""Homophone repair against the company's vocabulary: where the transcript has characters that sound
like a vocabulary term, the term is written instead (气泄包 → 器械包, 颗是 → 科室, 同路线 → 桐庐县) —
but only where the repaired sentence is the likelier one, so a long word list cannot make it worse.

Whisper base hears Mandarin domain words well but spells them as commoner words that sound the same; on
this project's notes nearly all its errors were such homophones (docs/speech.md). Decoder hotwords did
not fix them (bench/vocabulary.py), a sound-alike lookup does. Sounding alike is not enough, though:
the first version wrote every sound-alike term, and a word list of 50,000 common words turned correct
sentences wrong (百分之 → 百分支, 护士长 → 护市长, 适用 → 试用). Now:

* **Sound.** A two-character term must match the heard characters' syllables *and* tones (可是 ke3 shi4
  is not 科室 ke1 shi4); a longer term the syllables, with at most one tone in three differing. A heard
  character matches a tone any of its readings has.
* **Likelihood.** Each run of Chinese characters is segmented as jieba does it, into the words of its
  dictionary (the word frequencies bundled with jieba) and the vocabulary's terms, with the choice of
  writing a term where it sounds like the heard characters. The likeliest segmentation wins. Writing a
  term instead of what was heard costs (:data:`MISHEARD`), each differing tone more (:data:`TONE`), and
  replacing a common word of the dictionary more again (:data:`COMMON_WORD`). So a correct common word
  stays (百分之 is likelier than 百分支, 护士长 than 护市长, 试用 than 适用), and a long term beats a
  short one inside it.
* **Weight.** A term is at least as likely as its share of :data:`SHARE` of what is said, each source
  having its own share (company records, the themes and forms, the word list), at most :data:`CAP`; a
  term the dictionary knows as commoner keeps the dictionary's frequency. A long list spreads its share
  thin: a 50,000-word list gives each word a frequency of about 120, so it cannot outweigh a common word.
* **Usefulness.** A word-list term is compared only if the list makes it at least :data:`BOOST` times
  likelier than the dictionary does: a common word gains nothing from being listed (Whisper knows it as
  well) and is where a repair does harm (适用 is not made 试用). The company's records, themes and forms
  are always compared. At most :data:`MAX_TERMS` terms are compared, the word list's rarest first.

Only runs of Chinese characters are compared, never across punctuation. Two terms that sound alike and
are equally likely cancel each other out. The original audio is always kept, and the rep can still
correct the quote.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache

from pypinyin import Style, lazy_pinyin, pinyin

MAX_TERMS = 10000  # terms compared (the index is built once per vocabulary: ≈0.9 s for 10,000)
MAX_WORD = 16  # longest word looked up in the dictionary
# Likelihoods are natural logs of a word's frequency over the dictionary's total (≈60 million
# occurrences: 的 319,000, 使用 24,000, 适用 3,100, 试用 530, 科室 175, 器械包 none).
SHARE = 0.1  # of what is said, each source's terms together
CAP = 20000.0  # the highest frequency a term is given
BOOST = 10.0  # a word-list term is compared when the list makes it this much likelier
MISHEARD = 5.0  # cost of writing a term instead of what was heard (a factor of 150)
TONE = 2.0  # extra cost of each syllable whose tone differs
COMMON_WORD = 3.0  # extra cost of replacing a word the dictionary has at least COMMON times
COMMON = 100
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_HAN_ONLY = re.compile(r"^[\u4e00-\u9fff]{2,12}$")


class Source(IntEnum):
    """Where a term comes from (the first source that has a term names it)."""

    RECORDS = 0  # customer and key-person names, product codes, speech.hotwords
    CONFIG = 1  # the demand themes' keywords and the forms' option labels
    LIST = 2  # the editable word list (speech.vocabulary_file)


def _syllables(text: str) -> list[str]:
    return [s.lower() for s in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)]


def _bare(syllables: Iterable[str]) -> tuple[str, ...]:
    return tuple(s.rstrip("012345") for s in syllables)


@lru_cache(maxsize=8192)
def _readings(char: str) -> frozenset[str]:
    """Every toned reading of one character (a heard 要 may be yao1, yao3 or yao4)."""
    found = pinyin(char, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)
    return frozenset(s.lower() for s in (found[0] if found else []))


def _dictionary() -> tuple[Mapping[str, int], int]:
    """jieba's word frequencies (a word's prefixes are there with 0) and their total; loaded once per
    process (≈0.6 s from jieba's cache, ≈60 MB, shared with the demand clustering)."""
    import jieba

    jieba.dt.check_initialized()
    return jieba.dt.FREQ, int(jieba.dt.total)


def _sources(records: Iterable[str], config: Iterable[str], listed: Iterable[str]) -> dict[str, Source]:
    """Each term of 2–12 Chinese characters, and the first source that has it."""
    sources: dict[str, Source] = {}
    for source, given in ((Source.RECORDS, records), (Source.CONFIG, config), (Source.LIST, listed)):
        for text in given:
            if _HAN_ONLY.match(text):
                sources.setdefault(text, source)
    return sources


@dataclass(frozen=True)
class _Term:
    text: str
    syllables: tuple[str, ...]
    logp: float


@dataclass
class HomophoneFixer:
    """Built once per vocabulary; :meth:`fix` is pure and cheap (a few dozen lookups a character)."""

    terms: frozenset[str] = frozenset()
    compared: int = 0
    _logp: dict[str, float] = field(default_factory=dict)  # every term's likelihood
    _by_sound: dict[tuple[str, ...], list[_Term]] = field(default_factory=dict)  # the compared terms
    _lengths: tuple[int, ...] = ()
    _freq: Mapping[str, int] = field(default_factory=dict)
    _log_total: float = 0.0

    @classmethod
    def build(
        cls, records: Iterable[str] = (), *, config: Iterable[str] = (), listed: Iterable[str] = ()
    ) -> HomophoneFixer:
        """Terms from the company's records, from its configuration (themes, forms) and from its word
        list; only terms of 2–12 Chinese characters take part."""
        freq, total = _dictionary()
        log_total = math.log(total)
        sources = _sources(records, config, listed)
        counts = {src: sum(1 for s in sources.values() if s == src) for src in Source}
        floor = {src: min(CAP, SHARE * total / max(1, n)) for src, n in counts.items()}
        logp: dict[str, float] = {}
        useful: list[tuple[int, str]] = []
        for text, source in sources.items():
            known = freq.get(text, 0)
            logp[text] = math.log(max(known, floor[source])) - log_total
            if source != Source.LIST:
                useful.append((-1, text))
            elif known * BOOST <= floor[source]:
                useful.append((known, text))
        by_sound: dict[tuple[str, ...], list[_Term]] = {}
        compared = [text for _, text in sorted(useful, key=lambda u: u[0])][:MAX_TERMS]
        for text in compared:
            entry = _Term(text, tuple(_syllables(text)), logp[text])
            by_sound.setdefault(_bare(entry.syllables), []).append(entry)
        lengths = tuple(sorted({len(t) for t in compared}, reverse=True))
        return cls(frozenset(sources), len(compared), logp, by_sound, lengths, freq, log_total)

    def fix(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """The text with homophones of vocabulary terms replaced, and the (heard, written) pairs."""
        if not self._by_sound:
            return text, []
        changes: list[tuple[str, str]] = []
        out: list[str] = []
        last = 0
        for run in _HAN.finditer(text):
            out.append(text[last : run.start()])
            out.append(self._fix_run(run.group(), changes))
            last = run.end()
        out.append(text[last:])
        return "".join(out), changes

    def _word(self, word: str) -> float | None:
        """The likelihood of a word as written: a term's, or the dictionary's."""
        if word in self._logp:
            return self._logp[word]
        count = self._freq.get(word, 0)
        return math.log(count) - self._log_total if count > 0 else None

    def _sound_alike(self, heard: str, syllables: list[str]) -> tuple[str, float] | None:
        """The term to write for ``heard`` and its likelihood less the costs, when one term is
        clearly the likeliest of those that sound like it."""
        scored: list[tuple[float, str]] = []
        common = COMMON_WORD if self._freq.get(heard, 0) >= COMMON else 0.0
        for term in self._by_sound.get(_bare(syllables), ()):
            if term.text == heard:
                continue
            tones = sum(
                1
                for ch, said, mine in zip(heard, term.syllables, syllables, strict=True)
                if said != mine and said not in _readings(ch)
            )
            if tones > len(heard) // 3:
                continue
            scored.append((term.logp - MISHEARD - TONE * tones - common, term.text))
        if not scored:
            return None
        scored.sort(reverse=True)
        if len(scored) > 1 and scored[1][0] >= scored[0][0] - 1e-9:
            return None  # two terms sound alike and are equally likely: which was meant is unknown
        return scored[0][1], scored[0][0]

    def _fix_run(self, run: str, changes: list[tuple[str, str]]) -> str:
        syllables = _syllables(run)
        if len(syllables) != len(run):  # a character pypinyin could not read: leave the run alone
            return run
        size = len(run)
        unknown = -self._log_total  # a character the dictionary lacks counts as seen once
        # best[i]: the likeliest way to write run[i:] — its likelihood, where its first word ends and
        # what is written for that word
        best: list[tuple[float, int, str]] = [(0.0, size, "")] * (size + 1)
        for i in range(size - 1, -1, -1):
            options: list[tuple[float, int, str]] = []
            for j in range(i + 1, min(size, i + MAX_WORD) + 1):
                logp = self._word(run[i:j])
                if logp is None and j == i + 1:
                    logp = unknown
                if logp is not None:
                    options.append((logp + best[j][0], j, run[i:j]))
            for n in self._lengths:
                if i + n <= size:
                    found = self._sound_alike(run[i : i + n], syllables[i : i + n])
                    if found is not None:
                        options.append((found[1] + best[i + n][0], i + n, found[0]))
            best[i] = max(options, key=lambda o: o[0])
        pieces: list[str] = []
        i = 0
        while i < size:
            _, j, written = best[i]
            if written != run[i:j]:
                changes.append((run[i:j], written))
            pieces.append(written)
            i = j
        return "".join(pieces)
