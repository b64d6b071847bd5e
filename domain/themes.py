"""The demand theme dictionary (config/themes.toml): loading and validation."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
# What normalize_text removes; captured, so that searchable() can split a clause into words and the gaps
# between them.
_NOISE = re.compile(r"([\s\W_]+)", re.UNICODE)


def normalize_text(text: str) -> str:
    """Full-width → half-width, lower case, no spaces or punctuation: what keywords are matched in."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


# Where a clause ends (matched after NFKC, so ，（！？ are their ASCII forms): clause punctuation, line
# breaks, brackets, quotation marks, dashes, tildes and bars; a full stop or colon only when it is not
# inside a word or number (3.0T, v2.1 stay whole). Hyphens, slashes and plus signs (X-ray, B超/彩超, PD-1)
# are removed inside a clause, as normalize_text does.
_CLAUSE_BREAK = re.compile(
    r"[,;!?。、\n\r()\[\]{}【】「」『』“”‘’\"《》〈〉<>—–~|·]+"
    r"|(?<![0-9A-Za-z])[.:]|[.:](?![0-9A-Za-z])"
)


# A gap that separates two Latin words: a space or a slash (LIS PACS, DRG/DIP). Dots, colons and hyphens
# join (7.5折, 11:30, X-ray, PD-1 stay one word each).
_WORD_GAP = re.compile(r"[\s/]")


@dataclass(frozen=True)
class Searchable:
    """A text as keywords are looked for in it: its normalised clauses joined by a line break (which no
    keyword holds, so a keyword never spans two clauses: 「型号不对，手术差点做不了」 does not contain 对手),
    and the positions where a space or slash between two Latin letters or digits was removed
    (「LIS PACS」 → ``lispacs`` with a word break at 3)."""

    text: str
    breaks: frozenset[int] = frozenset()


def searchable(text: str) -> Searchable:
    out: list[str] = []
    breaks: set[int] = set()
    length = 0
    for part in _CLAUSE_BREAK.split(unicodedata.normalize("NFKC", text)):
        # Words and the gaps between them, alternately: ["lis", " ", "pacs"].
        cut = _NOISE.split(part.lower())
        words = [(word, cut[i - 1] if i else "") for i, word in enumerate(cut) if i % 2 == 0 and word]
        if not words:
            continue
        if out:
            out.append("\n")
            length += 1
        for i, (word, gap) in enumerate(words):
            if i and _WORD_GAP.search(gap) and _latin(words[i - 1][0][-1]) and _latin(word[0]):
                breaks.add(length)
            out.append(word)
            length += len(word)
    return Searchable("".join(out), frozenset(breaks))


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def contains(text: Searchable, keyword: str) -> bool:
    """True when ``text`` holds ``keyword`` (normalised) inside one clause. A keyword that begins or
    ends with a Latin letter or digit must not run on into one there, so ``his`` (the hospital
    information system) is not found in ``this`` or ``history``, nor ``app`` in ``apple``, while
    「HIS/LIS」 and 「LIS PACS」 hold both words; Chinese is a substring match (「器械包」 in
    「这个器械包太重」)."""
    part = text.text
    start = part.find(keyword)
    if start < 0 or not (_latin(keyword[0]) or _latin(keyword[-1])):
        return start >= 0
    while start >= 0:
        end = start + len(keyword)
        before_ok = start == 0 or start in text.breaks or not (_latin(keyword[0]) and _latin(part[start - 1]))
        after_ok = end == len(part) or end in text.breaks or not (_latin(keyword[-1]) and _latin(part[end]))
        if before_ok and after_ok:
            return True
        start = part.find(keyword, start + 1)
    return False


def spans_clauses(word: str) -> bool:
    """True when ``word`` contains a clause break: as a keyword it could never match."""
    return len(_CLAUSE_BREAK.split(unicodedata.normalize("NFKC", word).strip())) > 1


@dataclass(frozen=True)
class Theme:
    key: str
    label: str
    keywords: tuple[tuple[str, float], ...]
    scenarios: frozenset[str]
    # Quotes that voice this need in other words: a demand no keyword matches joins the theme whose
    # examples it is most like (with the sentence model; domain/clustering.py).
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThemeBook:
    themes: tuple[Theme, ...]
    min_score: float = 1.0
    scenario_bonus: float = 0.5
    discovery_threshold: float = 0.3
    version: str = ""
    # The dictionary is used only when it describes at least this share of the demands being clustered
    # (a strong match: score ≥ 2 × min_score); below, it is another industry's dictionary and discovery
    # decides. 0 = always use it. Themes in ``always`` (kept by the product department) always apply.
    min_coverage: float = 0.5
    always: frozenset[str] = frozenset()

    def label_of(self, key: str) -> str | None:
        for theme in self.themes:
            if theme.key == key:
                return theme.label
        return None


class ThemesFileError(ValueError):
    """The theme file cannot be used; ``problems`` lists every reason in plain words."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def _number(value: object, where: str, problems: list[str], *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        problems.append(f"{where} must be a number from {low:g} to {high:g} (got {value!r})")
        return low
    return float(value)


def _keyword(raw: object, where: str, problems: list[str]) -> tuple[str, float] | None:
    if not isinstance(raw, str) or not raw.strip():
        problems.append(f"{where}: a keyword must be a non-empty string (got {raw!r})")
        return None
    word, sep, weight = raw.rpartition(":")
    if not sep:
        word, weight = raw, "1"
    try:
        value = float(weight)
    except ValueError:
        problems.append(f"{where}: {raw!r} — the weight after ':' must be a number")
        return None
    if not 0 < value <= 100:
        problems.append(f"{where}: {raw!r} — the weight must be above 0 and at most 100")
        return None
    norm = normalize_text(word)
    if not norm:
        problems.append(f"{where}: {raw!r} has no letters or characters to match")
        return None
    if spans_clauses(word):
        problems.append(f"{where}: {raw!r} — a keyword is matched inside one clause; drop the punctuation")
        return None
    return norm, value


MAX_EXAMPLES = 50  # example quotes per theme in the file
MAX_EXAMPLE_CHARS = 200


def _examples(raw: object, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        problems.append(f"{where}: examples must be a list of quotes (strings)")
        return ()
    quotes = [e.strip() for e in raw]
    if any(not q or len(q) > MAX_EXAMPLE_CHARS for q in quotes):
        problems.append(f"{where}: every example must be a quote of 1 to {MAX_EXAMPLE_CHARS} characters")
    if len(quotes) > MAX_EXAMPLES:
        problems.append(f"{where}: at most {MAX_EXAMPLES} examples (got {len(quotes)})")
    return tuple(dict.fromkeys(q for q in quotes if q))[:MAX_EXAMPLES]


def parse_themes(data: dict[str, object], path: Path) -> ThemeBook:
    problems: list[str] = []
    known = {"version", "min_score", "scenario_bonus", "discovery_threshold", "min_coverage", "themes"}
    for extra_key in sorted(set(data) - known):
        problems.append(f"unknown top-level key {extra_key!r} (known: {', '.join(sorted(known))})")
    min_score = _number(data.get("min_score", 1.0), "min_score", problems, low=0.01, high=100)
    bonus = _number(data.get("scenario_bonus", 0.5), "scenario_bonus", problems, low=0, high=100)
    threshold = _number(
        data.get("discovery_threshold", 0.3), "discovery_threshold", problems, low=0.01, high=1
    )
    coverage = _number(data.get("min_coverage", 0.5), "min_coverage", problems, low=0, high=1)
    raw_themes = data.get("themes")
    themes: list[Theme] = []
    if not isinstance(raw_themes, list) or not raw_themes:
        problems.append("no [[themes]] entries")
        raw_themes = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_themes, 1):
        if not isinstance(raw, dict):
            problems.append(f"theme #{i} is not a table")
            continue
        key: Any = raw.get("key")
        where = f"theme #{i} ({key})" if key else f"theme #{i}"
        for extra in sorted(set(raw) - {"key", "label", "keywords", "scenarios", "examples"}):
            problems.append(f"{where}: unknown key {extra!r}")
        if not isinstance(key, str) or not _KEY.match(key):
            problems.append(f"{where}: key must be lower-case letters, digits, '-' or '_' (got {key!r})")
            continue
        if key.startswith("d-"):
            problems.append(f"{where}: keys starting with 'd-' are reserved for discovered clusters")
        if key in seen:
            problems.append(f"{where}: key {key!r} is used twice")
        seen.add(key)
        raw_label = raw.get("label")
        label = raw_label if isinstance(raw_label, str) else ""
        if not label.strip() or len(label) > 100:
            problems.append(f"{where}: label must be a non-empty string of at most 100 characters")
            label = key
        words = raw.get("keywords")
        if not isinstance(words, list) or not words:
            problems.append(f"{where}: keywords must be a non-empty list")
            words = []
        parsed = [
            kw for j, w in enumerate(words, 1) if (kw := _keyword(w, f"{where} keyword #{j}", problems))
        ]
        scenarios = raw.get("scenarios", [])
        if not isinstance(scenarios, list) or not all(isinstance(s, str) for s in scenarios):
            problems.append(f"{where}: scenarios must be a list of strings")
            scenarios = []
        examples = _examples(raw.get("examples", []), where, problems)
        themes.append(Theme(key, label.strip(), tuple(dict(parsed).items()), frozenset(scenarios), examples))
    if problems:
        raise ThemesFileError(path, problems)
    return ThemeBook(tuple(themes), min_score, bonus, threshold, str(data.get("version", "")), coverage)


def load_themes(path: Path) -> ThemeBook:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThemesFileError(path, ["file not found"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ThemesFileError(path, [f"not valid TOML: {exc}"]) from None
    return parse_themes(data, path)
