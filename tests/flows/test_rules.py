"""The flow rules that do not need a chat: names, product codes, photo metadata, visit windows, keywords."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from config.settings import FlowSettings
from domain.competitors import competition_keyword
from domain.customer_import import parse_day
from domain.names import similarity
from domain.photos import NotAnImage, read_meta
from domain.product_codes import extract
from domain.twins import NameIndex
from domain.visits import planned_window
from tests.flows.kit import exif_jpeg

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("杭州一院", "杭州市第一人民医院", True),
        ("杭州市第一医院", "杭州市第一人民医院", True),
        ("邵逸夫医院", "浙江大学医学院附属邵逸夫医院", True),
        ("杭州市第一人民医院", "杭州市第三人民医院", False),
        ("杭州三院", "杭州市第一人民医院", False),
        ("余杭区人民医院", "富阳区人民医院", False),
        ("浙江省人民医院", "浙江省中医院", False),
        ("杭州鄞州区仁爱人民医院", "杭州萧山区仁爱人民医院", False),
        ("建德市第一人民医院", "杭州市第一人民医院", False),
        ("杭州市余杭区第一人民医院", "余杭区第一人民医院", True),
        ("杭州市上城区社区卫生服务中心", "杭州市上城区社区卫生服务中心（小营）", True),
        ("上城区中医院", "杭州市上城区中医院", True),
    ],
)
def test_twin_names(a: str, b: str, same: bool) -> None:
    assert (similarity(a, b) >= FlowSettings().duplicate_threshold) is same
    index = NameIndex([(1, b)])
    assert bool(index.similar(a, FlowSettings().duplicate_threshold)) is same


def test_name_index_exact_and_ranked() -> None:
    index = NameIndex([(1, "杭州市第一人民医院"), (2, "杭州市第三人民医院"), (3, "萧山区第一人民医院")])
    assert [t.customer_id for t in index.exact(" 杭州市 第一人民医院 ")] == [1]
    assert [t.customer_id for t in index.similar("杭州三院", 80)] == [2]
    assert index.similar("", 80) == [] and NameIndex().similar("杭州一院", 80) == []


@pytest.mark.parametrize(
    ("text", "code", "source", "note"),
    [
        ("KL-2024-001", "KL-2024-001", "typed", ""),
        ("产品编号：KL-2024-001", "KL-2024-001", "typed", ""),
        ("https://scan.example.com/p?code=KL-2024-001&from=qr", "KL-2024-001", "url", ""),
        ("https://x.example.cn/products/AB-99", "AB-99", "url", ""),
        ("(01)06901234567892(17)271231(10)LOT42", "06901234567892", "gs1", "批号 LOT42，有效期 2027-12-31"),
        ("]d20106901234567892\x1d10ABC", "06901234567892", "gs1", "批号 ABC"),
        ("01069012345678921727123110LOT42", "06901234567892", "gs1", "批号 LOT42，有效期 2027-12-31"),
        ('{"sku": "ZX-1", "name": "骨钉"}', "ZX-1", "json", ""),
        ("https://udi.example.com/?udi=(01)06901234567892(10)B7", "06901234567892", "gs1", "批号 B7"),
    ],
)
def test_product_code_from_typed_or_scanned_text(text: str, code: str, source: str, note: str) -> None:
    found = extract(text)
    assert (found.code, found.source, found.note) == (code, source, note)


def test_photo_meta_reads_offset_and_southern_western_gps(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 30))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = "2026:11:23 08:00:00"
    exif.get_ifd(0x8769)[36881] = "+09:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "S", (33, 52, 0.0), "W", (151, 12, 36.0)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    meta = read_meta(buf.getvalue(), TZ)
    assert meta.taken_at == datetime.fromisoformat("2026-11-23T08:00:00+09:00")
    assert (meta.gps_lat, meta.gps_lon) == (-33.8666667, -151.21)
    plain = read_meta(exif_jpeg(tmp_path / "a.jpg", taken=None, lat=None, lon=None).read_bytes(), TZ)
    assert (plain.taken_at, plain.gps_lat) == (None, None)
    with pytest.raises(NotAnImage):
        read_meta(b"not an image", TZ)


def test_visit_window_from_approval_fields() -> None:
    start, end = planned_window(
        {"start": "2026-11-28T14:00:00+08:00", "end": "2026-11-28T15:30:00+08:00"}, TZ, 60
    )
    assert (start, end) == (
        datetime.fromisoformat("2026-11-28T14:00:00+08:00"),
        datetime.fromisoformat("2026-11-28T15:30:00+08:00"),
    )
    start, end = planned_window({"start": "2026-11-28 14:00"}, TZ, 60)  # naive: app time zone; no end
    assert start == datetime(2026, 11, 28, 14, 0, tzinfo=TZ) and end == datetime(
        2026, 11, 28, 15, 0, tzinfo=TZ
    )
    start, end = planned_window({"start": "2026-11-28T16:00+08:00", "end": "2026-11-28T15:00+08:00"}, TZ, 60)
    assert start is not None and end is not None and start < end
    assert planned_window({"start": "下周一"}, TZ, 60) == (None, None)


def test_competitor_keywords_are_configurable() -> None:
    keywords = FlowSettings().competitor_keywords
    assert competition_keyword("我们还要再 比较几家", keywords) == "再比较"
    assert competition_keyword("其他家的报价更低", keywords) == "其他家"
    assert competition_keyword("别的品牌也在谈", keywords) == "别的品牌"
    assert competition_keyword("价格还要再谈", keywords) is None
    assert competition_keyword("我们在看某某的产品", ["某某"]) == "某某"


def test_import_dates() -> None:
    today = date(2026, 11, 23)
    assert parse_day("2026/11/20", today) == date(2026, 11, 20)
    assert parse_day("2026年11月2日", today) == date(2026, 11, 2)
    assert parse_day(datetime(2026, 11, 1, 9, 30, tzinfo=TZ), today) == date(2026, 11, 1)
    with pytest.raises(ValueError, match="in the future"):
        parse_day("2026-12-01", today)
    with pytest.raises(ValueError, match="not like"):
        parse_day("上周", today)
