"""The one way spreadsheets are read (roster, customer and order imports): limits checked first.

An XLSX file is a zip: before openpyxl parses anything, the members' declared uncompressed sizes
are added up and refused over ``MAX_UNPACKED_BYTES`` (a 409 KB file can unpack to 400 MB of
shared strings). The sheet is then streamed (``read_only``) and reading stops at ``MAX_ROWS``
rows, instead of materialising millions of rows first. Both limits are refusals with a plain reason.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000


class SheetRefused(ValueError):
    """The workbook is over a limit or unreadable; ``str(exc)`` says why in plain words."""


def check_zip(source: Path | IO[bytes], *, max_unpacked_bytes: int | None = None) -> None:
    limit = MAX_UNPACKED_BYTES if max_unpacked_bytes is None else max_unpacked_bytes
    try:
        with zipfile.ZipFile(source) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise SheetRefused(f"not a readable .xlsx workbook ({exc})") from exc
    if total > limit:
        raise SheetRefused(
            f"the workbook unpacks to {total / 1024 / 1024:.0f} MB, over the limit of "
            f"{limit / 1024 / 1024:.0f} MB; split it into smaller files"
        )


def xlsx_rows(
    source: Path | IO[bytes], *, max_rows: int | None = None, max_unpacked_bytes: int | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cell values) of the first sheet, streamed, after the size check."""
    from openpyxl import load_workbook

    limit = MAX_ROWS if max_rows is None else max_rows
    check_zip(source, max_unpacked_bytes=max_unpacked_bytes)
    if not isinstance(source, Path):
        source.seek(0)
    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:
        raise SheetRefused(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from exc
    try:
        if not book.worksheets:
            raise SheetRefused("the workbook has no sheets")
        for number, values in enumerate(book.worksheets[0].iter_rows(values_only=True), 1):
            if number > limit + 1:  # the header and ``limit`` rows
                raise SheetRefused(f"the sheet has more than {limit} rows; split it into smaller files")
            yield number, list(values)
    finally:
        book.close()
