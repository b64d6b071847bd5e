"""The company vocabulary: built from the database, forms, themes and a word list; bounded; a hostile
word list is loaded with warnings, never a crash."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.testing import make_settings
from config.settings import SpeechSettings
from speech import vocabulary
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Customer, KeyPerson

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


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
            speech={"vocabulary_file": str(words), "vocabulary_max_terms": 500, "vocabulary_max_chars": 400},
        )
        with caplog.at_level(logging.WARNING, logger="actionflow.speech"):
            async with db.read() as s:
                built = await vocabulary.load(s, settings)
        assert {"骨科耗材", "萧山区第一人民医院", "孙丽", "采购成本高"} <= set(built.terms)
        assert any("灭菌" in t for t in built.terms)  # the themes' keywords
        assert any("not UTF-8" in r.getMessage() for r in caplog.records)
        off = make_settings(tmp_path, speech={"vocabulary": False})
        async with db.read() as s:
            assert (await vocabulary.load(s, off)).terms == ()
    finally:
        await db.dispose()
