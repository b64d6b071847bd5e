"""Hostile spreadsheets and pictures: how long and how much memory until they are refused.

Reproduces the files of issue #19: an XLSX that unpacks to 400 MB, one with 3 million rows, and a
40000×40000 PNG. Each is read in a fresh child process (so peak memory is its own) through the shared
reader (``domain.sheets``) and the photo check (``domain.photos.too_many_pixels``), with the default
limits (50 MB unpacked, 100,000 rows, 50 megapixels). Prints one table; ``python -m bench.hostile_files``.
"""

from __future__ import annotations

import multiprocessing
import statistics
import struct
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

RUNS = 3


def _base(path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["客户名称"])
    sheet.append(["杭州市第一人民医院"])
    book.save(path)
    return path


def zip_bomb(folder: Path) -> Path:
    """The sheet's first cell is one inline string of 400 MB of spaces (about 400 KB zipped)."""
    path = _base(folder / "bomb-base.xlsx")
    out = folder / "bomb.xlsx"
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
        + b" " * (400 * 1024 * 1024)
        + b"</t></is></c></row></sheetData></worksheet>"
    )
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = sheet if info.filename == "xl/worksheets/sheet1.xml" else source.read(info)
            target.writestr(info.filename, data)
    return out


def row_flood(folder: Path, rows: int = 3_000_000) -> Path:
    """Empty ``<row/>`` elements: 3 million rows in about 18 MB unpacked, under the size limit."""
    path = _base(folder / "flood-base.xlsx")
    out = folder / "flood.xlsx"
    body = "<row/>" * rows
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>'
    ).encode()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = sheet if info.filename == "xl/worksheets/sheet1.xml" else source.read(info)
            target.writestr(info.filename, data)
    return out


def ordinary(folder: Path, rows: int = 20_000) -> Path:
    """A legitimate customer list: the cost the checks add to a file that passes them."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["客户名称", "客户类型", "客户等级", "所在区域", "负责人"])
    for i in range(rows):
        sheet.append([f"杭州市第{i}人民医院", "三甲医院", "A", "杭州市上城区", "王磊"])
    path = folder / "ordinary.xlsx"
    book.save(path)
    return path


def png_bomb_bytes(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width``×``height`` pixels, with a tiny compressed body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def png_bomb(folder: Path) -> Path:
    path = folder / "bomb.png"
    path.write_bytes(png_bomb_bytes(40000, 40000))
    return path


def _peak_mib() -> float:
    """This process's peak resident memory (VmHWM starts afresh at exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(kind: str, path: str, queue: multiprocessing.Queue[tuple[float, float, str]]) -> None:
    import openpyxl  # noqa: F401 - imported before the clock starts

    from domain.customer_import.files import ImportFileError, read_table
    from domain.photos import too_many_pixels

    start = time.perf_counter()
    if kind == "photo":
        outcome = too_many_pixels(Path(path).read_bytes()) or "decoded"
    else:
        try:
            outcome = f"read {len(read_table(Path(path)))} rows"
        except ImportFileError as exc:
            outcome = str(exc).split(": ", 1)[1]
    seconds = time.perf_counter() - start
    queue.put((seconds, _peak_mib(), outcome))


def _child_before(kind: str, path: str, queue: multiprocessing.Queue[tuple[float, float, str]]) -> None:
    """The readers as they were before the limits (openpyxl read_only over every row; Pillow's
    own bomb check only), in an address space capped at 2 GiB so a bomb cannot hurt the machine."""
    import resource

    from openpyxl import load_workbook
    from PIL import Image

    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    start = time.perf_counter()
    try:
        if kind == "photo":
            with Image.open(path) as img:
                outcome = f"decoded {img.size}"
        else:
            book = load_workbook(path, read_only=True, data_only=True)
            rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
            book.close()
            outcome = f"read {rows:,} rows"
    except Exception as exc:
        outcome = f"{type(exc).__name__} (uncaught before)"
    queue.put((time.perf_counter() - start, _peak_mib(), outcome))


def measure(kind: str, path: Path, *, before: bool = False) -> tuple[float, float, str]:
    times, peaks, outcome = [], [], ""
    ctx = multiprocessing.get_context("spawn")
    for _ in range(1 if before else RUNS):
        queue = ctx.Queue()
        child = ctx.Process(target=_child_before if before else _child, args=(kind, str(path), queue))
        child.start()
        seconds, peak, outcome = queue.get(timeout=300)
        child.join()
        times.append(seconds)
        peaks.append(peak)
    return statistics.median(times), max(peaks), outcome


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = [
            ("XLSX unpacking to 400 MB", "sheet", zip_bomb(folder)),
            ("XLSX with 3,000,000 rows", "sheet", row_flood(folder)),
            ("PNG photo 40000×40000", "photo", png_bomb(folder)),
            ("XLSX, 20,000 ordinary rows", "sheet", ordinary(folder)),
        ]
        print(f"| file | size | reader | time (median of {RUNS}; before: 1 run) | peak RSS | outcome |")
        print("|---|---|---|---|---|---|")
        for label, kind, path in cases:
            size = path.stat().st_size / 1024
            for before in (True, False):
                seconds, peak, outcome = measure(kind, path, before=before)
                reader = "before (no limits)" if before else "now"
                print(
                    f"| {label} | {size:,.0f} KiB | {reader} | {seconds * 1000:,.0f} ms | {peak:,.0f} MiB "
                    f"| {outcome} |"
                )


if __name__ == "__main__":
    main()
