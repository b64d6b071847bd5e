"""Reading and writing the roster as CSV (UTF-8, or GBK as Excel saves it in China) or XLSX.

Reading checks the file's shape only (readable, a header row, known and unrepeated columns);
:mod:`domain.roster.importer` checks the people in it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from domain import sheets
from domain.roster.columns import COLUMNS, Lang, column_for, header
from domain.safe_text import formula_risk, neutralise_cell, unwrap_cell
from domain.sheets import SheetRefused, xlsx_rows

CSV_SUFFIXES = {".csv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
MAX_ROWS = 20000


class RosterFileError(ValueError):
    """The file cannot be used at all; ``problems`` are plain-word lines (``line 1: …``)."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class RawRow:
    line: int  # the spreadsheet row / the CSV line the record starts on (the header is line 1)
    cells: dict[str, str]  # column key -> stripped text


@dataclass(frozen=True)
class RosterFile:
    path: Path
    columns: tuple[str, ...]  # column keys present, in file order
    rows: tuple[RawRow, ...]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _decode(path: Path, data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterFileError(path, ["the file is not UTF-8 or GBK text; save it as CSV UTF-8 or as .xlsx"])


def _csv_records(path: Path, data: bytes) -> list[tuple[int, list[str]]]:
    text = _decode(path, data)
    if "\x00" in text:
        raise RosterFileError(path, ["the file contains binary data; is it really a CSV file?"])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RosterFileError(path, [f"line {start}: malformed CSV ({exc})"]) from exc
    return records


def _xlsx_records(path: Path, data: bytes) -> list[tuple[int, list[str]]]:
    try:
        return [
            (i, [_cell_text(v) for v in row])
            for i, row in xlsx_rows(io.BytesIO(data), max_rows=min(MAX_ROWS, sheets.MAX_ROWS))
        ]
    except SheetRefused as exc:
        raise RosterFileError(path, [str(exc)]) from exc


def read_roster(path: Path) -> RosterFile:
    """The file's header and non-empty rows, or :class:`RosterFileError` with every shape problem."""
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        raise RosterFileError(path, [f"unsupported file type {suffix or '(none)'!r}; use .csv or .xlsx"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterFileError(path, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    records = _xlsx_records(path, data) if suffix in XLSX_SUFFIXES else _csv_records(path, data)
    records = [(line, cells) for line, cells in records if any(c.strip() for c in cells)]
    if not records:
        raise RosterFileError(path, ["the file is empty: it needs a header row and one row per person"])
    header_line, raw_headers = records[0]
    problems: list[str] = []
    columns: list[str] = []
    positions: list[int] = []
    for i, cell in enumerate(raw_headers):
        raw = cell.strip()
        if not raw:
            continue
        key = column_for(raw)
        if key is None:
            known = ", ".join(c.key for c in COLUMNS)
            problems.append(f"line {header_line}: unknown column {raw!r} (known columns: {known})")
        elif key in columns:
            problems.append(f"line {header_line}: column {raw!r} appears twice")
        else:
            columns.append(key)
            positions.append(i)
    if "name" not in columns and not problems:
        problems.append(f"line {header_line}: there is no name column (姓名)")
    if len(records) - 1 > MAX_ROWS:
        problems.append(f"the file has {len(records) - 1} rows; the limit is {MAX_ROWS}")
    if problems:
        raise RosterFileError(path, problems)
    rows: list[RawRow] = []
    width = max(positions) + 1
    for line, cells in records[1:]:
        extra = [c for c in cells[width:] if c.strip()]
        unnamed = [cells[i] for i in range(min(len(cells), width)) if i not in positions and cells[i].strip()]
        if extra or unnamed:
            problems.append(f"line {line}: a value sits in a column without a header")
            continue
        padded = [unwrap_cell(c.strip()) for c in [*cells, *[""] * (width - len(cells))]]
        risky = [c for c in padded if formula_risk(c)]
        if risky:
            problems.append(f"line {line}: {risky[0][:30]!r} would run as a spreadsheet formula; remove it")
            continue
        rows.append(RawRow(line, {key: padded[pos] for key, pos in zip(columns, positions, strict=True)}))
    if problems:
        raise RosterFileError(path, problems)
    return RosterFile(path, tuple(columns), tuple(rows))


def write_roster(path: Path, rows: Sequence[dict[str, str]], *, lang: Lang = "en") -> None:
    """Write every column, one row per person, in the format :func:`read_roster` reads."""
    keys = [c.key for c in COLUMNS]
    headers = [header(k, lang) for k in keys]
    table = [[row.get(k, "") for k in keys] for row in rows]
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        _write_xlsx(path, headers, table)
    elif suffix in CSV_SUFFIXES:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        # A cell starting with = + - @ would run as a formula when the CSV is opened: prefix it with '.
        writer.writerows([[str(neutralise_cell(v)) for v in values] for values in table])
        path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    else:
        raise RosterFileError(path, [f"unsupported file type {suffix or '(none)'!r}; use .csv or .xlsx"])


def _write_xlsx(path: Path, headers: list[str], table: list[list[str]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "people"
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in table:
        sheet.append(values)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.data_type == "f":  # text such as =HYPERLINK(…) stays text, never a live formula
                cell.data_type = "s"
    # Every cell is text, so ids like 0123 and long phone numbers survive a round trip through Excel.
    for row in sheet.iter_rows():
        for cell in row:
            cell.number_format = "@"
    for i in range(len(headers)):
        width = max([len(headers[i]) * 2, *(len(r[i]) * 2 for r in table)], default=8)
        sheet.column_dimensions[sheet.cell(1, i + 1).column_letter].width = min(max(width, 8), 40)
    workbook.save(path)
