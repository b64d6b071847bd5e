"""Homophone repair against the company's vocabulary: where the transcript has characters that sound
exactly like a vocabulary term, the term is written instead (气泄包 → 器械包, 颗是 → 科室, 同路线 → 桐庐县).

Whisper base hears Mandarin domain words well but spells them as commoner words that sound the same; on
this project's notes nearly all its errors were such homophones (docs/speech.md). Decoder hotwords did
not fix them (bench/vocabulary.py), a sound-alike lookup does. The match is strict so ordinary words are
left alone: a two-character term must match syllables *and* tones (可是 ke3 shi4 is not 科室 ke1 shi4); a
term of three or more characters must match the syllables. Only runs of Chinese characters are
compared, longest terms first, never across punctuation; a span that already is a vocabulary term is
kept. The original audio is always kept, and the rep can still correct the quote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pypinyin import Style, lazy_pinyin

MAX_TERMS = 5000  # terms compared (the list is built once per vocabulary)
_HAN = re.compile(r"[\u4e00-\u9fff]+")
_HAN_ONLY = re.compile(r"^[\u4e00-\u9fff]{2,12}$")


def _syllables(text: str) -> list[str]:
    return [s.lower() for s in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)]


def _key(syllables: list[str], toned: bool) -> tuple[str, ...]:
    return tuple(syllables) if toned else tuple(s.rstrip("012345") for s in syllables)


@dataclass
class HomophoneFixer:
    """Built once per vocabulary; :meth:`fix` is pure and cheap (a dictionary lookup per span)."""

    terms: frozenset[str] = frozenset()
    _index: dict[tuple[int, tuple[str, ...]], str] = field(default_factory=dict)
    _lengths: tuple[int, ...] = ()

    @classmethod
    def build(cls, terms: Iterable[str]) -> HomophoneFixer:
        chosen = [t for t in dict.fromkeys(terms) if _HAN_ONLY.match(t)][:MAX_TERMS]
        index: dict[tuple[int, tuple[str, ...]], str] = {}
        ambiguous: set[tuple[int, tuple[str, ...]]] = set()
        for term in chosen:
            key = (len(term), _key(_syllables(term), toned=len(term) == 2))
            if key in index and index[key] != term:
                ambiguous.add(key)  # two terms sound the same: which one was meant is unknown
            index.setdefault(key, term)
        for key in ambiguous:
            del index[key]
        return cls(frozenset(chosen), index, tuple(sorted({k[0] for k in index}, reverse=True)))

    def fix(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """The text with homophones of vocabulary terms replaced, and the (heard, written) pairs."""
        if not self._index:
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

    def _fix_run(self, run: str, changes: list[tuple[str, str]]) -> str:
        syllables = _syllables(run)
        if len(syllables) != len(run):  # a character pypinyin could not read: leave the run alone
            return run
        pieces: list[str] = []
        i = 0
        while i < len(run):
            kept = next((n for n in self._lengths if run[i : i + n] in self.terms), 0)
            if kept:  # already a term: keep it whole
                pieces.append(run[i : i + kept])
                i += kept
                continue
            for n in self._lengths:
                if i + n > len(run):
                    continue
                span = run[i : i + n]
                term = self._index.get((n, _key(syllables[i : i + n], toned=n == 2)))
                if term is not None and term != span and span not in self.terms:
                    pieces.append(term)
                    changes.append((span, term))
                    i += n
                    break
            else:
                pieces.append(run[i])
                i += 1
        return "".join(pieces)
