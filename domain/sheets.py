"""The one way spreadsheets are read (roster, customer and order imports): limits checked first.

An XLSX file is a zip: before openpyxl parses anything, the members' declared uncompressed sizes
are added up and refused over ``MAX_UNPACKED_BYTES`` (a 409 KB file can unpack to 400 MB of
shared strings), and the ``<row>`` elements of each worksheet are counted on the raw XML, stopping at
``MAX_ROWS`` (a 30 KB file can hold 3 million empty rows). Only then does openpyxl open the workbook;
the sheet is streamed (``read_only``) and reading stops at ``MAX_ROWS`` again. Every limit is a
refusal with a plain reason.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000


class SheetRefused(ValueError):
    """The workbook is over a limit or unreadable; ``str(exc)`` says why in plain words."""


_ROW = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,30}:)?row[\s/>]")
_LONGEST = 40  # a match is at most this long, so one starting this far from a chunk's end is whole
_CHUNK = 1 << 20


def _rows_over(member: IO[bytes], limit: int) -> bool:
    count, carry = 0, b""
    while chunk := member.read(_CHUNK):
        data = carry + chunk
        cut = max(len(data) - _LONGEST, 0)
        count += sum(1 for m in _ROW.finditer(data) if m.start() < cut)
        carry = data[cut:]
        if count > limit:
            return True
    return count + len(_ROW.findall(carry)) > limit


def _too_many_rows(archive: zipfile.ZipFile, limit: int) -> bool:
    """Whether a worksheet has more than ``limit`` rows plus the header, counted on the raw XML
    (C-speed, stopping as soon as the limit is passed) before openpyxl parses anything: without a
    ``<dimension>`` element openpyxl scans the whole sheet just to open the workbook."""
    for info in archive.infolist():
        if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
            with archive.open(info) as member:
                if _rows_over(member, limit + 1):
                    return True
    return False


def check_zip(
    source: Path | IO[bytes], *, max_unpacked_bytes: int | None = None, max_rows: int | None = None
) -> None:
    limit = MAX_UNPACKED_BYTES if max_unpacked_bytes is None else max_unpacked_bytes
    rows = MAX_ROWS if max_rows is None else max_rows
    try:
        with zipfile.ZipFile(source) as archive:
            total = sum(info.file_size for info in archive.infolist())
            if total <= limit and _too_many_rows(archive, rows):
                raise SheetRefused(f"the sheet has more than {rows} rows; split it into smaller files")
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise SheetRefused(f"not a readable .xlsx workbook ({exc})") from exc
    if total > limit:
        raise SheetRefused(
            f"the workbook unpacks to {_mb(total)} MB, over the limit of {_mb(limit)} MB; "
            "split it into smaller files"
        )


def _mb(size: int) -> str:
    value = size / 1024 / 1024
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.1f}"


def xlsx_rows(
    source: Path | IO[bytes], *, max_rows: int | None = None, max_unpacked_bytes: int | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cell values) of the first sheet, streamed, after the size check."""
    from openpyxl import load_workbook

    limit = MAX_ROWS if max_rows is None else max_rows
    check_zip(source, max_unpacked_bytes=max_unpacked_bytes, max_rows=limit)
    if not isinstance(source, Path):
        source.seek(0)
    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:
        raise SheetRefused(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})") from exc
    try:
        if not book.worksheets:
            raise SheetRefused("the workbook has no sheets")
        rows = enumerate(book.worksheets[0].iter_rows(values_only=True), 1)
        while True:
            try:
                number, values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # malformed sheet XML, bad cell values: a refusal, not a crash
                raise SheetRefused(f"the sheet cannot be read ({type(exc).__name__}: {exc})") from exc
            if number > limit + 1:  # the header and ``limit`` rows
                raise SheetRefused(f"the sheet has more than {limit} rows; split it into smaller files")
            yield number, list(values)
    finally:
        book.close()
