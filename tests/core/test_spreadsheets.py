"""Spreadsheets: formulas neutralised on export and refused on import; zip bombs and row floods refused
before they are parsed, by the one reader all three imports share (customers, roster, orders)."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from openpyxl import Workbook, load_workbook

from bot.cli.main import main
from config.settings import SecuritySettings
from domain import limits, sheets
from domain.customer_import.files import ImportFileError, read_table
from domain.orders import OrderProblems, read_file
from domain.roster.files import RosterFileError, read_roster, write_roster
from tests.flows.test_import import HEADER, setup_db, stored

EVIL = '=HYPERLINK("http://evil.example/p","点此查看")'


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    limits.apply(SecuritySettings())
    yield
    limits.apply(SecuritySettings())


def workbook(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def with_member(path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return path


def with_rows(path: Path, n: int) -> Path:
    """``path`` whose first sheet is replaced by ``n`` one-cell rows (about 35 bytes each unpacked)."""
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, n + 1))
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>'
    )
    source = zipfile.ZipFile(path)
    out = path.with_name("rows-" + path.name)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = sheet.encode() if info.filename == "xl/worksheets/sheet1.xml" else source.read(info)
            target.writestr(info.filename, data)
    source.close()
    return out


def readers(path: Path) -> list[tuple[str, str]]:
    """The refusal of each import reader for ``path``."""
    out = []
    for name, read, error in (
        ("customers", read_table, ImportFileError),
        ("roster", read_roster, RosterFileError),
        ("orders", read_file, OrderProblems),
    ):
        with pytest.raises(error) as refused:
            read(path)
        out.append((name, str(refused.value)))
    return out


def test_a_zip_bomb_is_refused_before_parsing_by_every_import(tmp_path: Path) -> None:
    base = workbook(tmp_path / "bomb.xlsx", [["客户名称"], ["杭州市第一人民医院"]])
    bomb = with_member(base, "xl/sharedStrings2.xml", b"<a>" + b"\x20" * (120 * 1024 * 1024) + b"</a>")
    assert bomb.stat().st_size < 1024 * 1024  # 120 MB packed into well under 1 MB
    before = psutil.Process().memory_info().rss
    for name, reason in readers(bomb):
        assert "unpacks to 120 MB, over the limit of 50 MB" in reason, (name, reason)
    assert psutil.Process().memory_info().rss - before < 50 * 1024 * 1024


def test_a_row_flood_stops_at_the_row_limit(tmp_path: Path) -> None:
    # The default limits (100000 rows; the roster's own 20000) are exercised in bench/hostile_files.py.
    limits.apply(SecuritySettings(import_max_rows=1000, import_max_unpacked_mb=1))
    assert sheets.MAX_UNPACKED_BYTES == 1024 * 1024
    flood = with_rows(workbook(tmp_path / "flood.xlsx", [["x"]]), 3000)
    for name, reason in readers(flood):
        if name != "roster":  # the roster stops at its own 20000 rows
            assert "more than 1000 rows; split it into smaller files" in reason, (name, reason)
    big = with_rows(workbook(tmp_path / "big.xlsx", [["x"]]), 40_000)  # about 1.4 MB unpacked
    assert "over the limit of 1 MB" in readers(big)[0][1]


def test_export_users_keeps_formulas_as_text(tmp_path: Path) -> None:
    people = [{"name": EVIL, "id": "wanglei", "phone": "+8613800000000"}]
    write_roster(tmp_path / "users.csv", people)
    write_roster(tmp_path / "users.xlsx", people)
    cells = list(csv.reader(io.StringIO((tmp_path / "users.csv").read_text(encoding="utf-8"))))[1]
    assert "'" + EVIL in cells and not any(c.startswith("=") for c in cells)
    sheet = load_workbook(tmp_path / "users.xlsx").worksheets[0]
    written = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value == EVIL]
    assert written and all(c.data_type == "s" for c in written)  # text, not a live formula
    # Read back, both are recognised as formulas and refused (the CSV's apostrophe is taken off first).
    for name in ("users.csv", "users.xlsx"):
        with pytest.raises(RosterFileError, match="would run as a spreadsheet formula"):
            read_roster(tmp_path / name)


def test_imports_refuse_formula_cells(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "people.csv"
    roster.write_text(f'姓名,手机\n"{EVIL.replace(chr(34), chr(34) * 2)}",+8613800000000\n', encoding="utf-8")
    with pytest.raises(RosterFileError) as refused:
        read_roster(roster)
    assert "would run as a spreadsheet formula" in str(refused.value)
    orders = workbook(tmp_path / "orders.xlsx", [["order_no", "customer", "order_date", "amount", "signed"]])
    orders = workbook(
        orders,
        [
            ["order_no", "customer", "order_date", "amount", "signed"],
            ["A1", "@SUM(1)", "2026-11-01", "10", "是"],
        ],
    )
    with pytest.raises(OrderProblems) as bad_orders:
        read_file(orders)
    assert "customer '@SUM(1)' would run as a spreadsheet formula" in str(bad_orders.value)

    config = setup_db(tmp_path)
    customers = tmp_path / "customers.csv"
    row = "-2+3+cmd|' /C calc'!A0,三甲医院,A,杭州市,王磊,否,采购科,陈明,采购科主任,2026-11-01,设备科,李华,科长,2026-10-01"
    customers.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    code = asyncio.run(
        asyncio.to_thread(main, ["--config", str(config), "import", "customers", str(customers)])
    )
    out = capsys.readouterr()
    assert code != 0 and "would run as a spreadsheet formula" in out.out + out.err
    assert [c.name for c in stored(tmp_path)[0]] == ["杭州市第一人民医院"]


@pytest.mark.parametrize("chunk", [7, 1 << 20])
def test_the_raw_row_count_is_exact_across_chunks(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheets, "_CHUNK", chunk)
    limits.apply(SecuritySettings(import_max_rows=100))
    fits = with_rows(workbook(tmp_path / "fits.xlsx", [["x"]]), 101)  # the header and 100 rows
    assert len(list(sheets.xlsx_rows(fits))) == 101
    over = with_rows(workbook(tmp_path / "over.xlsx", [["x"]]), 102)
    with pytest.raises(sheets.SheetRefused, match="more than 100 rows"):
        sheets.check_zip(over)
    prefixed = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(prefixed, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<x:sheetData>" + "<x:row r='1'></x:row>" * 102)
    with pytest.raises(sheets.SheetRefused, match="more than 100 rows"):
        sheets.check_zip(prefixed)


def test_a_malformed_sheet_is_a_plain_refusal(tmp_path: Path) -> None:
    path = workbook(tmp_path / "broken.xlsx", [["客户名称"], ["杭州市第一人民医院"]])
    broken = tmp_path / "broken2.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row><c><v>1</v></c>")  # cut off mid-element
            target.writestr(info.filename, data)
    for name, reason in readers(broken):
        assert "cannot be read" in reason or "not a readable" in reason, (name, reason)
