"""The identity resolver: the pair set (tests/data/identity_pairs.tsv) and the rules it rests on."""

from __future__ import annotations

import pytest

from bench.identity import build, evaluate, load_pairs
from domain.identity.resolver import Home, Resolver, home_of

ZJ = Home("浙江", None)


def resolver(*names: str | tuple[str, str]) -> Resolver:
    r = Resolver()
    r.extend((i, n, "") if isinstance(n, str) else (i, n[0], n[1]) for i, n in enumerate(names, 1))
    return r


def test_pair_set_is_varied_and_half_traps() -> None:
    pairs = load_pairs()
    traps = [p for p in pairs if not p.same]
    assert len(pairs) >= 80 and abs(len(traps) - len(pairs) / 2) <= len(pairs) * 0.1
    assert len({p.home for p in pairs if p.home}) >= 8  # several provinces
    assert sum("店" in p.target for p in pairs) >= 10  # store chains


def test_pairs_inside_two_thousand_customers() -> None:
    pairs = load_pairs()
    index, targets = build(pairs, 2000)
    true, traps, wrong = evaluate(index, targets, pairs)
    assert true.share >= 95, wrong
    assert traps.merged == 0 and traps.offered == 0, wrong


@pytest.mark.parametrize(
    ("typed", "home", "expected"),
    [
        ("富阳", ZJ, "富阳区人民医院"),
        ("桐庐", ZJ, "桐庐县人民医院"),
        ("和睦", ZJ, "杭州和睦医院"),
        ("浙大邵逸夫", ZJ, "浙江大学医学院附属邵逸夫医院"),
        ("省人民医院", ZJ, "浙江省人民医院"),
        ("省人医", Home("广东", None), "广东省人民医院"),
        ("杭州一院", ZJ, "杭州市第一人民医院"),
        ("浙江省人民医院（总院）", None, "浙江省人民医院"),
    ],
)
def test_short_forms_open_the_one_institution(typed: str, home: Home | None, expected: str) -> None:
    r = resolver(
        ("富阳区人民医院", "杭州市富阳区"),
        ("富阳区中医院", "杭州市富阳区"),
        ("桐庐县人民医院", "杭州市桐庐县"),
        ("杭州和睦医院", "杭州市拱墅区"),
        "浙江大学医学院附属邵逸夫医院",
        "浙江大学医学院附属第一医院",
        "浙江省人民医院",
        "广东省人民医院",
        "杭州市第一人民医院",
        "杭州市第三人民医院",
    )
    result = r.resolve(typed, home)
    assert result.outcome == "exact" and result.best is not None and result.best.name == expected


def test_different_province_ordinal_or_store_is_never_offered() -> None:
    r = resolver("广东省人民医院", "杭州市第三人民医院", "永辉超市福州台江店", "中山大学附属第二医院")
    for typed, home in (("省人民医院", ZJ), ("杭州一院", ZJ), ("永辉鼓楼店", None), ("中大附一", None)):
        assert r.resolve(typed, home).outcome == "none", typed


def test_one_character_typo_is_offered_not_refused() -> None:
    r = resolver("李惠利医院", "杭州和睦医院")
    result = r.resolve("李慧利")
    assert result.outcome == "pick" and result.best is not None and result.best.name == "李惠利医院"


def test_two_equal_candidates_are_asked_and_home_ones_come_first() -> None:
    r = resolver("复旦大学附属中山医院", "厦门大学附属中山医院")
    assert r.resolve("中山医院").outcome == "ask"
    picked = r.resolve("中山医院", home_of("上海"))
    assert picked.outcome == "pick" and picked.best is not None and picked.best.name == "复旦大学附属中山医院"


def test_aliases_open_exactly_and_only_own_names_are_learnable() -> None:
    r = resolver("浙江省人民医院", "杭州市第一人民医院")
    r.add_alias("老省人医", 1)
    assert r.resolve("老省人医").outcome == "exact"
    assert r.learnable("富阳") and r.learnable("浙大邵逸夫")
    assert not r.learnable("省人民医院") and not r.learnable("人民医院")


def test_visible_filter_decides_among_what_the_rep_may_see() -> None:
    r = resolver("永辉超市福州鼓楼店", "永辉超市南京鼓楼店")
    assert r.resolve("永辉鼓楼店").outcome == "ask"
    assert r.resolve("永辉鼓楼店", visible={2}).best is not None
    assert r.resolve("永辉鼓楼店", visible={2}).outcome == "exact"


def test_hostile_text_is_none_and_fast() -> None:
    import time

    r = resolver("杭州市第一人民医院")
    started = time.perf_counter()
    for text in ("医" * 5000, "", "   ", "（）（）", "第" * 300, "\x00\u202e杭州一院", "市市市市市"):
        assert r.resolve(text).outcome in ("none", "exact")
    assert time.perf_counter() - started < 1.0


def test_traditional_characters_are_the_same_name() -> None:
    r = resolver("浙江大学医学院附属邵逸夫医院")
    assert r.resolve("浙大邵逸夫醫院").outcome == "exact"
