"""Clustering 10,000 demands with the bot's engine, and its adjusted Rand index.

    python -m bench.clustering [--n 10000]

The demands are made from the labelled sample (shared/data/demands-sample.tsv) and the held-out
paraphrases (tests/manager/data/demands-heldout.tsv): each generated demand is one of those sentences
with a random speaker prefix, a hospital name and a closing remark, so wording varies as in real notes;
its label is the sentence's theme.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from pathlib import Path

from domain.clustering import Clusterer, DemandItem, adjusted_rand_index, load_book

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [Path("/work/shared/data/demands-sample.tsv"), ROOT / "tests/manager/data/demands-heldout.tsv"]
PREFIX = ["", "客户说：", "主任反映", "采购科提到", "护士长说", "设备科王科长：", "院长提了一句，"]
PLACE = ["", "杭州一院", "邵逸夫医院", "市中医院", "萧山一院", "余杭区人民医院"]
SUFFIX = ["", "，希望尽快解决。", "。下周再跟进。", "，这个问题反复提过。", "！", "，请领导关注。"]


def make(n: int, seed: int = 11) -> tuple[list[DemandItem], list[str]]:
    rows = []
    for path in SOURCES:
        if path.exists():
            with path.open(encoding="utf-8") as f:
                rows += list(csv.DictReader(f, delimiter="\t"))
    rnd = random.Random(seed)
    items, truth = [], []
    for i in range(n):
        r = rnd.choice(rows)
        place = rnd.choice(PLACE)
        text = f"{rnd.choice(PREFIX)}{place + '的' if place else ''}{r['text']}{rnd.choice(SUFFIX)}"
        items.append(DemandItem(str(i), text, r["scenario"]))
        truth.append(r["theme"])
    return items, truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    items, truth = make(args.n)
    clusterer = Clusterer(load_book())
    clusterer.cluster(items[:10])  # load jieba's dictionary outside the timing
    t0 = time.perf_counter()
    out = clusterer.cluster(items)
    seconds = time.perf_counter() - t0
    discovered = sum(a.kind == "discovered" for a in out)
    print("| measure | value |\n|---|---|")
    print(f"| demands | {len(items):,} |")
    print(f"| time (target ≤ 10 s) | {seconds:.2f} s |")
    found = {a.key for a in out if a.kind == "discovered"}
    print(f"| clusters | {len({a.key for a in out})} ({len(found)} discovered) |")
    print(f"| demands no theme covered (discovery) | {discovered:,} |")
    print(f"| ARI vs. the theme labels | {adjusted_rand_index(truth, [a.key for a in out]):.3f} |")
    for path in SOURCES:
        if path.exists():
            with path.open(encoding="utf-8") as f:
                rows = list(csv.DictReader(f, delimiter="\t"))
            got = clusterer.cluster(
                [DemandItem(str(i), r["text"], r["scenario"]) for i, r in enumerate(rows)]
            )
            score = adjusted_rand_index([r["theme"] for r in rows], [a.key for a in got])
            print(f"| ARI on {path.name} ({len(rows)}) | {score:.3f} |")


if __name__ == "__main__":
    main()
