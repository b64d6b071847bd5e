"""The company vocabulary: built from the database, forms, themes and a word list; bounded; a hostile
word list is loaded with warnings, never a crash."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.vocabulary import common_words, notes
from bot.testing import make_settings
from config.settings import SpeechSettings
from domain.demo import CUSTOMERS, KEY_PERSONS
from speech import homophones, vocabulary
from speech.homophones import HomophoneFixer
from speech.transcriber import WhisperTranscriber
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Customer, KeyPerson

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

# Correct sentences with common words, and vocabulary terms that sound like those words: 适用 like 试用
# (shi4 yong4), 分支 like 分之 (fen1 zhi1), 市长 like 士长 (shi4 zhang3); 试用 like 适用.
COMMON_WORDS = (
    ("试用了一个月，护士长说价格比美敦力高了百分之十五", ["适用", "分支", "市长"]),
    ("等离子灭菌对这批骨科耗材不太适用", ["试用"]),
)
HEARD = "孙立说我们颗是最头疼的是气泄包的坚融性问题，在同路线人民医院"  # base's homophones
MEANT = "孙丽说我们科室最头疼的是器械包的兼容性问题，在桐庐县人民医院"


def company_vocabulary(speech: SpeechSettings) -> vocabulary.Vocabulary:
    """The bot's vocabulary for the demo organisation, the shipped themes and forms."""
    settings = make_settings(Path("."))
    return vocabulary.build(
        speech,
        customers=[c[0] for c in CUSTOMERS],
        persons=[p[1] for p in KEY_PERSONS],
        options=vocabulary.form_options(settings.forms.path),
        keywords=vocabulary.theme_keywords(settings.themes.path),
    )


def test_a_50k_line_word_list_with_junk_is_loaded_with_warnings_and_bounded(tmp_path: Path) -> None:
    lines = [f"词条{i:05d}".encode() for i in range(48_000)]
    lines += [b"", b"   ", b"# a comment"] * 500
    lines += ["器械包".encode()] * 300 + [b"\xff\xfe\xb0\xa1 not utf-8"] * 200 + [("长" * 40).encode()]
    words = tmp_path / "words.txt"
    words.write_bytes(b"\xef\xbb\xbf" + "灭菌兼容性\n".encode() + b"\n".join(lines))
    terms, warnings = vocabulary.read_word_list(words)
    assert terms[:3] == ["灭菌兼容性", "词条00000", "词条00001"] and terms.count("器械包") == 1
    assert len(terms) == 48_002
    assert any("200 line(s) are not UTF-8" in w for w in warnings)
    assert any("duplicate" in w for w in warnings) and any("longer than" in w for w in warnings)

    speech = SpeechSettings(vocabulary_file=words, vocabulary_max_terms=40, vocabulary_max_chars=160)
    built = vocabulary.build(speech, customers=["杭州市第一人民医院"], keywords=["灭菌:3"])
    assert len(built.terms) <= 40 and len(built.hotwords) <= 160
    assert built.terms[:2] == ("灭菌兼容性", "杭州市第一人民医院")  # taken in turn from each source
    assert any("terms available" in w for w in built.warnings)


def test_a_huge_or_missing_or_binary_word_list_is_a_warning(tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    huge.write_bytes(("设备科\n" * 800_000).encode())  # 8 MB
    terms, warnings = vocabulary.read_word_list(huge)
    assert terms == ["设备科"] and any("read only that far" in w for w in warnings)
    terms, warnings = vocabulary.read_word_list(tmp_path / "absent.txt")
    assert terms == [] and "cannot be read" in warnings[0]
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 100)
    terms, warnings = vocabulary.read_word_list(binary)
    assert any("not UTF-8" in w for w in warnings)  # and no exception


def test_select_terms_respects_both_bounds_and_skips_repeats() -> None:
    terms, available = vocabulary.select_terms(
        [["器械包", "灭菌"], ["器械包", "杭州市第一人民医院"], ["x", "设备科"]], max_terms=3, max_chars=100
    )
    assert terms == ["器械包", "杭州市第一人民医院", "设备科"] and available == 4  # "x" is too short
    terms, _ = vocabulary.select_terms([["器械包", "灭菌柜", "设备科"]], max_terms=10, max_chars=7)
    assert terms == ["器械包", "灭菌柜"]  # 3 + 1 + 3 characters


async def test_vocabulary_comes_from_the_database_forms_and_themes(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(db_url)
    await upgrade(db)
    try:
        async with db.transaction() as s:
            c = Customer(
                name="萧山区第一人民医院",
                normalized_name="萧山区第一人民医院",
                created_at=NOW,
                updated_at=NOW,
            )
            s.add(c)
            await s.flush()
            s.add(
                KeyPerson(customer_id=c.id, role_group="设备科", name="孙丽", created_at=NOW, updated_at=NOW)
            )
        words = tmp_path / "words.txt"
        words.write_bytes("骨科耗材\n".encode() + b"\xff\n")
        settings = make_settings(
            tmp_path,
            speech={
                "vocabulary_file": str(words),
                "vocabulary_hotwords": True,
                "vocabulary_max_terms": 500,
                "vocabulary_max_chars": 400,
            },
        )
        with caplog.at_level(logging.WARNING, logger="actionflow.speech"):
            async with db.read() as s:
                built = await vocabulary.load(s, settings)
        assert {"骨科耗材", "萧山区第一人民医院", "孙丽", "采购成本高"} <= set(built.terms)
        assert any("灭菌" in t for t in built.terms)  # the themes' keywords
        assert any("not UTF-8" in r.getMessage() for r in caplog.records)
        default = make_settings(tmp_path, speech={"vocabulary_file": str(words)})
        async with db.read() as s:
            repair_only = await vocabulary.load(s, default)  # the default: nothing in the prompt
        assert repair_only.terms == () and repair_only.fixer is not None
        assert {"骨科耗材", "萧山区第一人民医院", "孙丽", "采购成本高"} <= repair_only.fixer.terms
        off = make_settings(tmp_path, speech={"vocabulary": False})
        async with db.read() as s:
            nothing = await vocabulary.load(s, off)
        assert nothing.terms == () and nothing.fixer is None
    finally:
        await db.dispose()


def test_homophones_of_terms_are_repaired_and_ordinary_words_left_alone() -> None:
    fixer = HomophoneFixer.build(["器械包", "科室", "兼容性", "交付周期", "桐庐县", "供应室", "Ab1"])
    fixed, changes = fixer.fix("我们颗是最头疼的是气泄包的面均坚融性问题。")
    assert fixed == "我们科室最头疼的是器械包的面均兼容性问题。"
    assert changes == [("颗是", "科室"), ("气泄包", "器械包"), ("坚融性", "兼容性")]
    # two characters must match the tones too: 可是 (ke3 shi4) is not 科室 (ke1 shi4)
    assert fixer.fix("可是价格太高，在同路线人民医院") == (
        "可是价格太高，在桐庐县人民医院",
        [("同路线", "桐庐县")],
    )
    assert fixer.fix("交付周期太长") == ("交付周期太长", [])  # already right
    assert fixer.fix("供应\n室") == ("供应\n室", [])  # never across a break
    # two terms that sound alike: which was meant is unknown, so neither is written
    both = HomophoneFixer.build(["器械", "气泄"])
    assert both.fix("器泄") == ("器泄", [])
    assert HomophoneFixer.build([]).fix("颗是") == ("颗是", [])


@pytest.mark.parametrize("source", ["records", "config", "listed"])
def test_a_correct_common_word_is_not_changed_by_a_term_that_sounds_like_it(source: str) -> None:
    for sentence, terms in COMMON_WORDS:
        fixer = HomophoneFixer.build(**{source: terms})
        assert fixer.fix(sentence) == (sentence, []), (source, terms)


def test_a_homophone_of_a_company_term_is_repaired_even_beside_a_long_word_list() -> None:
    records, config = ["桐庐县人民医院", "孙丽"], ["器械包", "科室", "兼容性"]
    assert HomophoneFixer.build(records, config=config).fix(HEARD)[0] == MEANT
    beside_50k = HomophoneFixer.build(records, config=config, listed=common_words())
    assert beside_50k.fix(HEARD)[0] == MEANT
    # a short word list repairs its own terms, and the longer of two terms wins
    listed = HomophoneFixer.build(listed=["器械包", "科室", "临床科室"])
    assert listed.fix("林床科是说气泄包不好用") == (
        "临床科室说器械包不好用",
        [("林床科是", "临床科室"), ("气泄包", "器械包")],
    )


def test_a_50k_common_word_list_is_bounded_and_changes_no_correct_sentence(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    shipped = SpeechSettings().vocabulary_file
    assert shipped is not None
    words.write_text(Path(shipped).read_text(encoding="utf-8") + "\n".join(common_words()), encoding="utf-8")
    fixer = company_vocabulary(SpeechSettings(vocabulary_file=words)).fixer
    default = company_vocabulary(SpeechSettings()).fixer
    assert fixer is not None and default is not None
    assert len(fixer.terms) > 50_000 and fixer.compared <= homophones.MAX_TERMS
    # common words gain nothing from being listed: the company's own terms are compared, few listed ones
    assert fixer.compared < default.compared
    correct = [said for _, _, said in notes("all")] + [sentence for sentence, _ in COMMON_WORDS]
    assert len(correct) == 41
    for fix in (fixer.fix, default.fix):
        assert [(said, fix(said)[1]) for said in correct if fix(said)[1]] == []
    assert "器械包" in fixer.fix("我们颗是最头疼的是气泄包的面均坚融性问题。")[0]  # a theme keyword


def test_a_word_list_longer_than_the_bound_keeps_the_company_terms_and_is_built_once() -> None:
    listed = [
        chr(0x4E00 + i % 4000) + chr(0x8000 + i // 4000) + "械" for i in range(homophones.MAX_TERMS + 2000)
    ]
    fixer = HomophoneFixer.build(["桐庐县人民医院"], config=["器械包"], listed=listed)
    assert fixer.compared == homophones.MAX_TERMS
    assert fixer.fix("气泄包送到同路线人民医院")[0] == "器械包送到桐庐县人民医院"
    speech = SpeechSettings()
    assert company_vocabulary(speech).fixer is company_vocabulary(speech).fixer  # a refresh rebuilds nothing


def test_the_real_model_with_the_company_vocabulary_gets_the_domain_words_right(
    transcriber: WhisperTranscriber, audio: Path, tmp_path: Path
) -> None:
    """Sample 1 (「我们科室最头疼的是器械包的灭菌兼容性问题」) with and without the default vocabulary, and
    with 50,000 common words added to the word list; sample 4 (transcribed right) is left alone."""
    import asyncio

    from tests.speech.conftest import cer, references

    settings = make_settings(tmp_path)
    words = tmp_path / "words.txt"
    assert settings.speech.vocabulary_file is not None
    shipped = Path(settings.speech.vocabulary_file).read_text(encoding="utf-8")
    words.write_text(shipped + "\n".join(common_words()), encoding="utf-8")
    with_50k = settings.speech.model_copy(update={"vocabulary_file": words})
    saved = transcriber.vocabulary, transcriber.vocabulary_loader
    transcriber.vocabulary_loader = None
    texts: dict[tuple[str, str], str] = {}
    try:
        for name, vocab in (
            ("plain", vocabulary.Vocabulary()),
            ("default", company_vocabulary(settings.speech)),
            ("50k", company_vocabulary(with_50k)),
        ):
            transcriber.vocabulary = vocab
            for sample in ("sample1", "sample4"):
                texts[name, sample] = asyncio.run(transcriber.transcribe(audio / f"{sample}.wav")).text
    finally:
        transcriber.vocabulary, transcriber.vocabulary_loader = saved
    said = references()["sample1"]
    plain, steered = texts["plain", "sample1"], texts["default", "sample1"]
    assert "器械包" not in plain and "科室" not in plain  # base alone: 气泄包, 颗是
    assert "器械包" in steered and "科室" in steered
    assert cer(steered, said) <= cer(plain, said) - 0.15, (plain, steered)
    assert "器械包" in texts["50k", "sample1"]  # a theme keyword: not crowded out by the long list
    assert cer(texts["50k", "sample1"], said) <= cer(plain, said) - 0.1
    assert texts["plain", "sample4"] == texts["default", "sample4"] == texts["50k", "sample4"]
    assert cer(texts["50k", "sample4"], references()["sample4"]) == 0


def test_the_real_model_is_steered_by_hotwords_when_they_are_on(
    transcriber: WhisperTranscriber, audio: Path, tmp_path: Path
) -> None:
    """`speech.vocabulary_hotwords` on, homophone repair off: the terms reach faster-whisper as
    ``hotwords`` and the decoder itself writes 科室, 器械包 and 交付周期 (samples 1 and 3); sample 4, already
    right, is unchanged. (With the setting off, the default, nothing goes to the decoder: see
    test_vocabulary_comes_from_the_database_forms_and_themes.)"""
    import asyncio

    from tests.speech.conftest import cer, references

    words = tmp_path / "words.txt"
    words.write_text("科室\n器械包\n灭菌\n兼容性\n交付周期\n", encoding="utf-8")
    base = make_settings(tmp_path).speech
    on = base.model_copy(
        update={"vocabulary_file": words, "vocabulary_hotwords": True, "homophone_repair": False}
    )
    steering = vocabulary.build(on)
    assert {"科室", "器械包", "交付周期"} <= set(steering.terms) and steering.fixer is None
    saved = transcriber.vocabulary, transcriber.vocabulary_loader
    transcriber.vocabulary_loader = None
    texts: dict[tuple[str, str], str] = {}
    try:
        for name, vocab in (("plain", vocabulary.Vocabulary()), ("hotwords", steering)):
            transcriber.vocabulary = vocab
            assert transcriber.options("zh").hotwords == vocab.hotwords
            for sample in ("sample1", "sample3", "sample4"):
                texts[name, sample] = asyncio.run(transcriber.transcribe(audio / f"{sample}.wav")).text
    finally:
        transcriber.vocabulary, transcriber.vocabulary_loader = saved
    said = references()
    assert "器械包" not in texts["plain", "sample1"] and "交付周期" not in texts["plain", "sample3"]
    assert "器械包" in texts["hotwords", "sample1"] and "科室" in texts["hotwords", "sample1"]
    assert "交付周期" in texts["hotwords", "sample3"]
    for sample in ("sample1", "sample3"):
        assert (
            cer(texts["hotwords", sample], said[sample]) <= cer(texts["plain", sample], said[sample]) - 0.15
        )
    assert texts["hotwords", "sample4"] == texts["plain", "sample4"]
