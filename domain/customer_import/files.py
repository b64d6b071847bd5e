"""Reading an import file: CSV (UTF-8 or GBK, as Excel in China saves it) or XLSX, with line numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from domain.sheets import SheetRefused, xlsx_rows


class ImportFileError(ValueError):
    """The file cannot be read at all (missing, wrong type, no rows)."""


def cell(value: Any) -> str:
    """A cell as trimmed text (``12.0`` from Excel becomes ``12``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(path: Path) -> list[tuple[int, list[Any]]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError(f"{path}: not UTF-8 or GBK text")
    rows: list[tuple[int, list[Any]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for cells in reader:  # a quoted cell may span lines: report the line the row starts on
        if any(c.strip() for c in cells):
            rows.append((start, list(cells)))
        start = reader.line_num + 1
    return rows


def _xlsx_rows(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        return [(number, values) for number, values in xlsx_rows(path) if any(cell(v) for v in values)]
    except SheetRefused as exc:
        raise ImportFileError(f"{path}: {exc}") from exc


def read_table(path: Path) -> list[tuple[int, list[Any]]]:
    """(line number, cells) for every non-empty row, the header first."""
    if not path.is_file():
        raise ImportFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    else:
        raise ImportFileError(f"{path}: use a .csv or .xlsx file")
    if not rows:
        raise ImportFileError(f"{path}: the file is empty")
    return rows
