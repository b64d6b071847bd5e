"""Demand clustering: same underlying need, whatever the wording (Chinese).

Two stages, one engine for the bot, the CLI and the benchmark:

1. **Themes** (config/themes.toml): weighted keywords matched in the normalised text; the best theme
   wins when it reaches ``min_score``. The rep's scenario only adds a small bonus to themes the text
   already points to — it is a hint, not the truth.
2. **Discovery** for demands no theme covers: TF-IDF vectors over character bigrams and jieba words,
   cosine similarity, greedy density clustering (the item with most neighbours above the threshold
   founds a cluster and takes its unassigned neighbours, repeat). Each discovered cluster is labelled
   with its most telling words and keyed ``d-<hash of the label>``.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from domain import semantic
from domain.themes import Theme, ThemeBook, contains, load_themes, normalize_text, searchable

DEFAULT_THEMES = Path(__file__).resolve().parents[1] / "config" / "themes.toml"

# Characters and pairs that carry no topic: a bigram made only of these is ignored in discovery.
_STOP_CHARS = set(
    "的了吗呢吧么嘛啊呀你我他她它们能不可以会要想说问让给把被对从到过着是有在和也都就还很太再先这那个些么怎样一下上"
)
_STOP_BIGRAMS = {
    "希望",
    "能否",
    "是否",
    "什么",
    "时候",
    "现在",
    "已经",
    "没有",
    "因为",
    "所以",
    "如果",
    "但是",
    "然后",
    "一直",
    "经常",
    "老是",
    "每次",
    "其实",
    "觉得",
    "感觉",
    "比较",
    "科室",
    "医院",
    "院里",
    "主任",
    "医生",
    "护士",
    "你们",
    "我们",
    "他们",
    "能不",
    "不能",
    "可以",
}
_STOP_WORDS = _STOP_BIGRAMS | {
    "一个",
    "一些",
    "这种",
    "那种",
    "问题",
    "情况",
    "东西",
    "需要",
    "能够",
    "之后",
    "以后",
    "之前",
    "以前",
    "今年",
    "明年",
    "下个月",
    "这次",
    "上次",
}
BACKGROUND = 2000
# With the sentence model (domain/semantic.py): average-link clustering of centred sentence vectors,
# merging while the mean similarity is ≥ SEMANTIC_THRESHOLD; two demands filed under the same scenario
# (not 其他) get SEMANTIC_SCENARIO_PRIOR added. Both measured on bench/data (docs/benchmarks.md). Above
# SEMANTIC_MAX demands in one batch (a bulk import), discovery uses words only: 1,000 take ≈ 4.4 s here.
SEMANTIC_THRESHOLD = 0.1
SEMANTIC_SCENARIO_PRIOR = 0.2
SEMANTIC_MAX = 1000
SCENARIO_WEIGHT = 3.0  # the rep's scenario as one more feature in discovery (times its rarity)
NO_SCENARIO = frozenset({"", "其他"})
_HAN_OR_WORD = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


@dataclass(frozen=True)
class Assignment:
    key: str
    label: str
    kind: str  # theme | discovered
    score: float = 0.0


@dataclass(frozen=True)
class DemandItem:
    id: str
    text: str
    scenario: str = ""


@dataclass(frozen=True)
class KnownCluster:
    """A discovered cluster that already exists (its members' texts), so new demands can join it."""

    key: str
    label: str
    texts: tuple[str, ...]


# -- stage 1: themes -------------------------------------------------------------------------
def match_theme(book: ThemeBook, text: str, scenario: str = "") -> tuple[Theme, float] | None:
    found = searchable(text)  # one search per keyword
    best: tuple[Theme, float] | None = None
    for theme in book.themes:
        score = sum(w for kw, w in theme.keywords if kw in found.text and contains(found, kw))
        if score <= 0:
            continue
        if scenario and scenario in theme.scenarios:
            score += book.scenario_bonus
        if best is None or score > best[1]:
            best = (theme, score)
    if best is None or best[1] < book.min_score:
        return None
    return best


COVERAGE_SAMPLE = 2000  # demands sampled (evenly) to measure how much of them the dictionary describes
COVERAGE_EVIDENCE = 30  # below this many demands the dictionary is trusted: too few to judge its fit
# A theme's examples (config/themes.toml `examples`), with the sentence model: a demand's likeness to a
# theme is its mean similarity (centred sentence vectors) to the theme's EXAMPLE_TOP closest examples. A
# demand no keyword matches joins the most alike theme at EXAMPLE_JOIN or above; at EXAMPLE_STRONG or
# above it counts as described by the dictionary when its fit is measured. Measured on bench/data
# (docs/benchmarks.md): quotes of the dictionary's own industry worded unlike its keywords score a median
# 0.29 against their best theme (43–45 % of them ≥ 0.3), quotes from five other industries 0.19–0.25
# (2–17 % ≥ 0.3).
EXAMPLE_TOP = 3
CENTRE_SAMPLE = 500  # the company's recent demands the vectors are centred on, with the examples
EXAMPLE_JOIN = 0.2
EXAMPLE_STRONG = 0.3


def _seed(book: ThemeBook) -> ThemeBook:
    """The dictionary's own themes: not those the product department keeps (``book.always``)."""
    return replace(book, themes=tuple(t for t in book.themes if t.key not in book.always))


def example_matches(
    book: ThemeBook, texts: Sequence[str], encoder: semantic.Encoder, company: Sequence[str] = ()
) -> list[tuple[Theme, float] | None]:
    """For each text, the theme whose examples it is most like and that likeness; None when no theme
    has examples. Vectors are centred on the examples, the reference remarks and an even sample of
    ``company`` (the company's recent demands, at most CENTRE_SAMPLE), not on the batch: a demand's
    likeness is nearly the same in an hourly scan of three demands and in the fit of two thousand, and
    what all of this company's quotes share (「客户说：」, 「希望尽快解决」) does not make them alike."""
    themes = [t for t in book.themes if t.examples]
    if not themes or not texts:
        return [None] * len(texts)
    examples = [e for t in themes for e in t.examples]
    picks = np.unique(np.linspace(0, len(company) - 1, CENTRE_SAMPLE).round()) if company else ()
    sample = [company[int(j)] for j in picks]
    vecs = encoder.centred_on([*texts, *examples], [*examples, *sample])
    sims = vecs[: len(texts)] @ vecs[len(texts) :].T
    columns = []
    start = 0
    for theme in themes:
        block = sims[:, start : start + len(theme.examples)]
        start += len(theme.examples)
        top = min(EXAMPLE_TOP, block.shape[1])
        columns.append(-np.sort(-block, axis=1)[:, :top].mean(axis=1))
    likeness = np.stack(columns, axis=1)
    best = likeness.argmax(axis=1)  # the first on a tie: kept themes come before the dictionary's
    return [(themes[int(j)], float(likeness[i, j])) for i, j in enumerate(best)]


Model = Callable[[], semantic.Encoder | None]


def coverage(book: ThemeBook, texts: Sequence[str], model: Model | None = None) -> float:
    """Share of ``texts`` the dictionary strongly describes, over at most COVERAGE_SAMPLE of them: its
    keywords match strongly (best theme score ≥ 2 × min_score) or the text is very like a theme's
    examples (≥ EXAMPLE_STRONG). ``model`` gives the sentence model (None: keywords only); it is asked
    for only when the keywords alone fall short of ``book.min_coverage``. Themes in ``book.always`` are
    not counted: they are not the seed's."""
    sample = list(texts[:: max(1, len(texts) // COVERAGE_SAMPLE)])
    if not sample:
        return 1.0
    seed = _seed(book)
    strong = 2 * book.min_score
    missed = [t for t in sample if (m := match_theme(seed, t)) is None or m[1] < strong]
    if 1 - len(missed) / len(sample) < book.min_coverage and model is not None:
        encoder = model()
        if encoder is not None:
            alike = example_matches(seed, missed, encoder, sample)
            missed = [t for t, m in zip(missed, alike, strict=True) if m is None or m[1] < EXAMPLE_STRONG]
    return 1 - len(missed) / len(sample)


def fitted(book: ThemeBook, texts: Sequence[str], model: Model | None = None) -> ThemeBook:
    """``book`` when its dictionary describes enough of ``texts`` (or there are too few to tell); else
    only its ``always`` themes."""
    if (
        book.min_coverage <= 0
        or len(texts) < COVERAGE_EVIDENCE
        or coverage(book, texts, model) >= book.min_coverage
    ):
        return book
    return replace(book, themes=tuple(t for t in book.themes if t.key in book.always))


# -- stage 2: discovery ----------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    """jieba words in search mode (a long word also yields its parts: 学术年会 → 学术, 年会, 学术年会)."""
    import jieba

    return [w for w in jieba.cut_for_search(normalize_text(text)) if len(w) >= 2 and w not in _STOP_WORDS]


def _bigrams(words: list[str]) -> list[str]:
    """Character bigrams inside words (never across a word boundary)."""
    out = []
    for word in words:
        units = _HAN_OR_WORD.findall(word)
        for a, b in itertools.pairwise(units):
            pair = a + b
            if (a in _STOP_CHARS and b in _STOP_CHARS) or pair in _STOP_BIGRAMS or pair in words:
                continue
            out.append("c:" + pair)
    return out


def features(text: str) -> Counter[str]:
    words = _tokens(text)
    return Counter(["w:" + w for w in words] + _bigrams(words))


class _Vectoriser:
    def __init__(self, docs: Sequence[Counter[str]], scenario_weight: float = SCENARIO_WEIGHT) -> None:
        self.weights = {"w": 1.5, "c": 1.0, "s": scenario_weight}
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        n = len(docs)
        self.idf = {f: math.log((n + 1) / (d + 1)) + 1.0 for f, d in df.items()}

    def vector(self, doc: Counter[str]) -> dict[str, float]:
        vec: dict[str, float] = {
            f: (1.0 + math.log(c)) * self.idf.get(f, 1.0) * self.weights.get(f[0], 1.0)
            for f, c in doc.items()
        }
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {f: v / norm for f, v in vec.items()}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(f, 0.0) for f, v in a.items())


def _neighbours(vecs: list[dict[str, float]], threshold: float) -> list[dict[int, float]]:
    """Pairs above ``threshold`` via an inverted index (features shared by most items are skipped)."""
    index: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for i, vec in enumerate(vecs):
        for f, v in vec.items():
            index[f].append((i, v))
    cap = max(200, len(vecs) // 10)
    out: list[dict[int, float]] = [{} for _ in vecs]
    for i, vec in enumerate(vecs):
        acc: dict[int, float] = defaultdict(float)
        for f, v in vec.items():
            postings = index[f]
            if len(postings) > cap:
                continue
            for j, w in postings:
                if j > i:
                    acc[j] += v * w
        for j, sim in acc.items():
            if sim >= threshold:
                out[i][j] = sim
                out[j][i] = sim
    return out


def _label(members: Iterable[dict[str, float]], first: str | None = None) -> str:
    """The defining term (if any) and the most telling other word of the cluster."""
    vecs = list(members)
    weight: dict[str, float] = defaultdict(float)
    for vec in vecs:
        for f, v in vec.items():
            weight[f] += v
    chosen: list[str] = [first] if first else []
    ranked = sorted(weight, key=lambda f: -weight[f])
    for f in ranked:
        word = f[2:]
        if not f.startswith("w:") or any(word in c or c in word for c in chosen):
            continue
        chosen.append(word)
        if len(chosen) == 2:
            break
    if not chosen:
        chosen = [f[2:] for f in ranked[:2]]
    return "、".join(chosen) or "其他需求"


def discovered_key(label: str) -> str:
    return "d-" + hashlib.sha1(label.encode("utf-8")).hexdigest()[:10]


def _primary(label: str) -> str:
    return label.split("、", maxsplit=1)[0].split("（", maxsplit=1)[0]


def _term_clusters(
    words: list[set[str]], idf: dict[str, float], min_support: int
) -> list[tuple[str, list[int]]]:
    """Frequent-term clustering: the term shared by most unassigned demands (rarer terms first on ties)
    founds a cluster of every unassigned demand containing it; repeat while a term is shared."""
    unassigned = set(range(len(words)))
    out: list[tuple[str, list[int]]] = []
    while True:
        support: Counter[str] = Counter()
        for i in unassigned:
            support.update(words[i])
        best = max(
            (t for t, n in support.items() if n >= min_support),
            key=lambda t: (support[t] * idf.get(t, 1.0), len(t), t),
            default=None,
        )
        if best is None:
            return out
        members = sorted(i for i in unassigned if best in words[i])
        unassigned -= set(members)
        out.append((best, members))


def discover(
    texts: Sequence[str],
    threshold: float,
    *,
    background: Sequence[str] = (),
    known: Sequence[KnownCluster] = (),
    scenarios: Sequence[str] = (),
    scenario_weight: float = SCENARIO_WEIGHT,
    encoder: semantic.Encoder | None = None,
) -> list[Assignment]:
    """Group ``texts`` no theme covers; join ``known`` clusters first. One Assignment per text.

    A known cluster is joined when the demand contains its defining term or is similar enough to its
    members (cosine ≥ ``threshold`` over words; with ``encoder``, else a mean sentence similarity
    ≥ SEMANTIC_THRESHOLD). With ``encoder`` the rest are grouped by average link over sentence vectors
    (the scenario as a prior); without, by frequent shared terms, then by word similarity. What is left
    stands alone (a cluster of one, which later demands may join).
    """
    if not texts:
        return []
    scenarios = list(scenarios) + [""] * (len(texts) - len(scenarios))
    sem = encoder if encoder is not None and len(texts) <= SEMANTIC_MAX else None
    if sem is not None:
        known_texts = [t for k in known for t in k.texts]
        sentence = sem.centred([*texts, *known_texts])
        known_rows: list[Any] = []
        start = len(texts)
        for k in known:
            known_rows.append(sentence[start : start + len(k.texts)])
            start += len(k.texts)
    docs = [features(t) for t in texts]
    for doc, scenario in zip(docs, scenarios, strict=False):
        if scenario not in NO_SCENARIO and scenario_weight > 0:
            doc["s:" + scenario] = 1
    known_docs = [[features(t) for t in k.texts] for k in known]
    corpus = docs + [d for ds in known_docs for d in ds] + [features(t) for t in background]
    vectoriser = _Vectoriser(corpus, scenario_weight)
    vecs = [vectoriser.vector(d) for d in docs]
    words = [{f[2:] for f in d if f.startswith("w:")} for d in docs]
    result: list[Assignment | None] = [None] * len(texts)
    if known:
        centroids = []
        for k, kdocs in zip(known, known_docs, strict=True):
            centre: dict[str, float] = defaultdict(float)
            for d in kdocs:
                for f, v in vectoriser.vector(d).items():
                    centre[f] += v / max(len(kdocs), 1)
            norm = math.sqrt(sum(v * v for v in centre.values())) or 1.0
            centroids.append((k, _primary(k.label), {f: v / norm for f, v in centre.items()}))
        for i, vec in enumerate(vecs):
            by_term = [k for k, term, _ in centroids if term in words[i]]
            if by_term:
                result[i] = Assignment(by_term[0].key, by_term[0].label, "discovered", 1.0)
                continue
            best = max(((k, _cosine(vec, c)) for k, _, c in centroids), key=lambda kc: kc[1])
            if best[1] >= threshold:
                result[i] = Assignment(best[0].key, best[0].label, "discovered", best[1])
                continue
            if sem is not None:
                means = [float((rows @ sentence[i]).mean()) if len(rows) else -1.0 for rows in known_rows]
                j = max(range(len(known)), key=lambda j: means[j])
                if means[j] >= SEMANTIC_THRESHOLD:
                    result[i] = Assignment(known[j].key, known[j].label, "discovered", means[j])
    todo = [i for i, r in enumerate(result) if r is None]
    groups: list[tuple[str | None, list[int]]] = []
    if sem is not None and todo:
        sub_vecs = sentence[todo]
        sim = sub_vecs @ sub_vecs.T
        filed = [scenarios[i] for i in todo]
        for a, scenario in enumerate(filed):
            if scenario in NO_SCENARIO:
                continue
            for b in range(a + 1, len(filed)):
                if filed[b] == scenario:
                    sim[a, b] += SEMANTIC_SCENARIO_PRIOR
                    sim[b, a] += SEMANTIC_SCENARIO_PRIOR
        by_group: dict[int, list[int]] = defaultdict(list)
        for j, g in enumerate(semantic.average_link(sim, SEMANTIC_THRESHOLD)):
            by_group[g].append(todo[j])
        groups = [(None, members) for members in by_group.values()]
    else:
        idf = {f[2:]: v for f, v in vectoriser.idf.items() if f.startswith("w:")}
        groups = [
            (term, [todo[j] for j in members])
            for term, members in _term_clusters([words[i] for i in todo], idf, min_support=2)
        ]
        taken = {i for _, members in groups for i in members}
        rest = [i for i in todo if i not in taken]
        sub = [vecs[i] for i in rest]
        neighbours = _neighbours(sub, threshold)
        order = sorted(range(len(sub)), key=lambda i: (-len(neighbours[i]), i))
        cluster_of: set[int] = set()
        for i in order:
            if i in cluster_of:
                continue
            members = [i] + [j for j in sorted(neighbours[i]) if j not in cluster_of]
            cluster_of.update(members)
            groups.append((None, [rest[j] for j in members]))
    used: dict[str, int] = {}
    for term, members in groups:
        label = _label((vecs[j] for j in members), first=term)
        used[label] = used.get(label, 0) + 1
        if used[label] > 1:
            label = f"{label}（{used[label]}）"
        for j in members:
            result[j] = Assignment(discovered_key(label), label, "discovered")
    return [r for r in result if r is not None]


# -- the engine --------------------------------------------------------------------------------
class Clusterer:
    """``semantic``: group demands no theme covers by their sentence vectors when the sentence model is
    installed (the default), else by their words."""

    def __init__(self, book: ThemeBook, *, semantic: bool = True) -> None:
        self.book = book
        self.semantic = semantic

    def assign(self, text: str, scenario: str = "") -> Assignment | None:
        hit = match_theme(self.book, text, scenario)
        if hit is None:
            return None
        theme, score = hit
        return Assignment(theme.key, theme.label, "theme", score)

    def cluster(
        self,
        items: Sequence[DemandItem],
        *,
        known: Sequence[KnownCluster] = (),
        recent: Sequence[str] | None = None,
    ) -> list[Assignment]:
        """Every item gets a cluster: its theme, a known discovered cluster, or a new one.

        The dictionary applies only when it describes enough of ``recent`` (the company's recent
        demands; default: ``items``) — see ``ThemeBook.min_coverage``."""
        texts = [item.text for item in items] if recent is None else recent
        book = fitted(self.book, texts, semantic.model if self.semantic else None)
        out: list[Assignment | None] = [
            Assignment(hit[0].key, hit[0].label, "theme", hit[1])
            if (hit := match_theme(book, item.text, item.scenario))
            else None
            for item in items
        ]
        rest = [i for i, a in enumerate(out) if a is None]
        encoder = semantic.model() if self.semantic and rest else None
        if encoder is not None and (len(texts) >= COVERAGE_EVIDENCE or book.min_coverage <= 0):
            # A demand no keyword matches joins the theme whose examples it is most like — once the
            # dictionary is known to fit the company's demands (with fewer than COVERAGE_EVIDENCE to
            # judge by, only its keywords are trusted: a new need would too easily join a theme). A
            # demand naming a known cluster's defining word is left to join that cluster.
            # Only clusters of two or more demands, and not by a word the dictionary uses itself.
            keywords = {kw for theme in book.themes for kw, _ in theme.keywords}
            terms = {_primary(k.label) for k in known if len(k.texts) >= 2} - keywords
            ask = [i for i in rest if not terms or not terms & set(_tokens(items[i].text))]
            alike = example_matches(book, [items[i].text for i in ask], encoder, texts)
            for i, match in zip(ask, alike, strict=True):
                if match is not None and match[1] >= EXAMPLE_JOIN:
                    out[i] = Assignment(match[0].key, match[0].label, "theme", match[1])
            rest = [i for i, a in enumerate(out) if a is None]
        found = discover(
            [items[i].text for i in rest],
            self.book.discovery_threshold,
            # Word rarity is learnt from the whole batch (at most BACKGROUND demands, evenly spread).
            background=[item.text for item in items[:: max(1, len(items) // BACKGROUND)]],
            known=known,
            scenarios=[items[i].scenario for i in rest],
            encoder=encoder if rest else None,
        )
        for i, assignment in zip(rest, found, strict=True):
            out[i] = assignment
        return [a for a in out if a is not None]


@lru_cache(maxsize=4)
def _cached_book(path: str, mtime: float) -> ThemeBook:
    return load_themes(Path(path))


def load_book(path: Path | None = None) -> ThemeBook:
    """The theme book at ``path`` (default: the shipped config/themes.toml), cached until it changes."""
    p = Path(path or DEFAULT_THEMES)
    return _cached_book(str(p), p.stat().st_mtime if p.exists() else 0.0)


def assign(text: str, scenario: str = "", *, path: Path | None = None) -> Assignment | None:
    """The theme of one demand, or None when no theme covers it (leave ``cluster_key`` empty: the
    next demand scan discovers a cluster for it among its peers)."""
    return Clusterer(load_book(path)).assign(text, scenario)


# -- evaluation --------------------------------------------------------------------------------
def adjusted_rand_index(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Hubert & Arabie's adjusted Rand index (1.0 = identical partitions, ~0 = chance)."""
    if len(truth) != len(predicted):
        raise ValueError("label lists differ in length")
    n = len(truth)
    if n < 2:
        return 1.0
    pairs = Counter(zip(truth, predicted, strict=True))
    index = sum(math.comb(c, 2) for c in pairs.values())
    rows = sum(math.comb(c, 2) for c in Counter(truth).values())
    cols = sum(math.comb(c, 2) for c in Counter(predicted).values())
    total = math.comb(n, 2)
    expected = rows * cols / total
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)
