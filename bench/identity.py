"""The identity resolver on the pairs in tests/data/identity_pairs.tsv, inside a 10k-customer list.

Every pair's target is indexed together with synthetic customers (hospitals of every type in every
prefecture-level city, district hospitals, private hospitals with common names, chain stores,
companies). Each query is resolved as the rep who typed it (their home region). A true pair is
right when its target is opened (exact) or offered alone (pick); a trap is right when its target
is neither. "merged" counts traps whose target was opened; "offered" traps whose target was the
one pick. Also printed: the old fuzzy matcher (domain.names) on the same pairs, targets only.

    python -m bench.identity [--customers 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from domain.identity.parse import parse
from domain.identity.places import _PROVINCES
from domain.identity.resolver import Home, Resolution, Resolver, home_of

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "identity_pairs.tsv"


@dataclass(frozen=True)
class Pair:
    query: str
    home: str
    target: str
    target_region: str
    same: bool


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    return [
        Pair(
            r["query"],
            "" if r["home"] == "-" else r["home"],
            r["target"],
            r["target_region"],
            r["same"] == "1",
        )
        for r in rows
    ]


_KINDS = ("人民医院", "中医院", "妇幼保健院", "儿童医院", "肿瘤医院", "中西医结合医院", "口腔医院")
_DISTRICTS = ("城关", "开发", "高新", "新城", "江北", "城东", "城西", "经开", "滨江", "港区")
_NAMED = (
    "仁爱",
    "博爱",
    "同仁",
    "仁济",
    "和平",
    "友谊",
    "人和",
    "康华",
    "华山",
    "新华",
    "东方",
    "光明",
    "协和",
    "安康",
    "长城",
    "明州",
)
_CHAINS = (
    ("永辉", "超市"),
    ("华润万家", "超市"),
    ("老百姓", "大药房"),
    ("大参林", ""),
    ("益丰", "大药房"),
    ("一心堂", ""),
    ("物美", "超市"),
)
_BRANCHES = (
    "万达",
    "中山路",
    "人民路",
    "解放路",
    "火车站",
    "新城",
    "江滨",
    "城东",
    "东湖",
    "北站",
    "南门",
    "西街",
)
_COMPANY = "康泰华元宏达瑞祥恒信佳盛鑫源博远安和瑞丰德明润泽"


def synthetic(n: int, seed: int = 7) -> Iterable[tuple[str, str]]:
    """(name, region) of plausible customers across every province, deterministic."""
    rng = random.Random(seed)
    cities = [(p, c) for p, cs in _PROVINCES.items() for c in cs.split()]
    out: list[tuple[str, str]] = []
    for province in _PROVINCES:
        for kind in ("人民医院", "中医院", "妇幼保健院", "肿瘤医院"):
            out.append((f"{province}省{kind}", f"{province}省"))
    for _province, city in cities:
        for kind in _KINDS:
            out.append((f"{city}市{kind}", f"{city}市"))
        for ordinal in "一二三四五":
            out.append((f"{city}市第{ordinal}人民医院", f"{city}市"))
        for district in rng.sample(_DISTRICTS, 4):
            out.append((f"{city}市{district}区人民医院", f"{city}市{district}区"))
            out.append((f"{district}区中医院", f"{city}市{district}区"))
        for name in rng.sample(_NAMED, 3):
            out.append((f"{city}{name}医院", f"{city}市"))
        for brand, word in rng.sample(_CHAINS, 3):
            for branch in rng.sample(_BRANCHES, 2):
                out.append((f"{brand}{word}{city}{branch}店", f"{city}市"))
    while len(out) < n:
        province, city = rng.choice(cities)
        core = "".join(rng.sample(_COMPANY, 2))
        out.append((f"{city}{core}医疗器械有限公司", f"{city}市"))
    rng.shuffle(out)
    return out[:n]


def _key(name: str, region: str) -> tuple[object, ...]:
    i = parse(name, region=region)
    return (i.province, i.city, i.district, i.org, i.core, i.kind, i.ordinal, i.branch)


def build(pairs: list[Pair], customers: int) -> tuple[Resolver, dict[str, int]]:
    """The index: every target once, plus synthetic customers up to ``customers`` in all. A synthetic
    name that is the same institution as a target is left out (a customer list holds each once)."""
    targets: dict[str, int] = {}
    rows: list[tuple[int, str, str]] = []
    keys = set()
    for pair in pairs:
        if pair.target not in targets:
            targets[pair.target] = len(rows) + 1
            rows.append((len(rows) + 1, pair.target, pair.target_region))
            keys.add(_key(pair.target, pair.target_region))
    seen = {name for _, name, _ in rows}
    for name, region in synthetic(max(customers - len(rows), 0) * 2):
        if len(rows) >= customers:
            break
        if name in seen or _key(name, region) in keys:
            continue
        seen.add(name)
        rows.append((len(rows) + 1, name, region))
    resolver = Resolver()
    resolver.extend(rows)
    return resolver, targets


@dataclass
class Score:
    right: int = 0
    total: int = 0
    merged: int = 0
    offered: int = 0
    exact: int = 0
    pick: int = 0

    @property
    def share(self) -> float:
        return 100.0 * self.right / self.total if self.total else 0.0


def judge(pair: Pair, result: Resolution, target_id: int) -> tuple[bool, str]:
    """Whether ``result`` is right for ``pair``, and what happened (exact / pick / ask / none)."""
    ids = [c.id for c in result.candidates]
    hit = bool(ids) and ids[0] == target_id
    if pair.same:
        return result.outcome in ("exact", "pick") and hit, result.outcome
    if result.outcome == "exact" and hit:
        return False, "merged"
    if result.outcome == "pick" and hit:
        return False, "offered"
    return True, result.outcome


def evaluate(
    resolver: Resolver, targets: dict[str, int], pairs: list[Pair]
) -> tuple[Score, Score, list[str]]:
    true, traps, wrong = Score(), Score(), []
    for pair in pairs:
        result = resolver.resolve(pair.query, home_of(pair.home) if pair.home else Home())
        ok, what = judge(pair, result, targets[pair.target])
        score = true if pair.same else traps
        score.total += 1
        score.right += ok
        score.merged += what == "merged"
        score.offered += what == "offered"
        if pair.same and ok:
            score.exact += what == "exact"
            score.pick += what == "pick"
        if not ok:
            got = ", ".join(f"{c.name}({c.tier})" for c in result.candidates[:3])
            wrong.append(f"{'same' if pair.same else 'trap'} {pair.query} → {pair.target}: {what} [{got}]")
    return true, traps, wrong


def baseline(pairs: list[Pair]) -> tuple[Score, Score]:
    """The matcher before the resolver (domain.names score + domain.customers.pick), targets only."""
    from domain.names import key, score

    names = list(dict.fromkeys(p.target for p in pairs))
    keys = [key(n) for n in names]
    true, traps = Score(), Score()
    for pair in pairs:
        wanted = key(pair.query)
        scored = sorted(((score(wanted, k), n) for k, n in zip(keys, names, strict=True)), reverse=True)
        scored = [s for s in scored if s[0] >= 60][:5]
        chosen = None
        if scored and (
            scored[0][0] >= 99.5
            or (scored[0][0] >= 80 and (len(scored) == 1 or scored[1][0] < scored[0][0] - 10))
        ):
            chosen = scored[0][1]
        s = true if pair.same else traps
        s.total += 1
        if pair.same:
            s.right += chosen == pair.target
        else:
            s.merged += chosen == pair.target
            s.right += chosen != pair.target
    return true, traps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5, help="timed passes over the queries")
    args = ap.parse_args()
    pairs = load_pairs()
    started, cpu_started = time.perf_counter(), time.thread_time()
    resolver, targets = build(pairs, args.customers)
    built, built_cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    true, traps, wrong = evaluate(resolver, targets, pairs)
    queries = [(p.query, home_of(p.home) if p.home else Home()) for p in pairs]
    queries += [(name, Home()) for name in list(targets)[:50]]
    times: list[float] = []
    cpu: list[float] = []  # this thread's CPU time: what the lookup costs without the machine's other load
    for _ in range(args.repeat):
        for text, home in queries:
            t0, c0 = time.perf_counter(), time.thread_time()
            resolver.resolve(text, home)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
    times.sort()
    cpu.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    cpu99 = cpu[min(len(cpu) - 1, int(len(cpu) * 0.99))]
    old_true, old_traps = baseline(pairs)
    print(f"pairs: {true.total} a rep would type, {traps.total} traps; index: {len(resolver)} customers")
    print("| measure | resolver | old matcher (targets only) |")
    print("|---|---|---|")
    print(
        f"| right on pairs a rep would type | {true.share:.1f} % ({true.right}/{true.total}; "
        f"{true.exact} opened, {true.pick} offered) | {old_true.share:.1f} % |"
    )
    print(f"| right on traps | {traps.share:.1f} % ({traps.right}/{traps.total}) | {old_traps.share:.1f} % |")
    print(f"| different institutions merged (opened) | {traps.merged} | {old_traps.merged} |")
    print(f"| different institutions offered as the one pick | {traps.offered} | |")
    n = len(resolver)
    print(
        f"| lookup median / p99 at {n} customers, wall clock | "
        f"{statistics.median(times):.3f} / {p99:.3f} ms | |"
    )
    print(
        f"| lookup median / p99 at {n} customers, CPU time | "
        f"{statistics.median(cpu):.3f} / {cpu99:.3f} ms | |"
    )
    print(f"| lookups timed | {len(times)} ({len(queries)} names × {args.repeat}) | |")
    print(f"| index build incl. generating the list (wall / CPU) | {built:.2f} / {built_cpu:.2f} s | |")
    for line in wrong:
        print("  wrong:", line)


if __name__ == "__main__":
    main()
