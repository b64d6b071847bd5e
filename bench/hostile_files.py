"""Hostile spreadsheets and pictures: how long and how much memory until they are refused.

Reproduces the files of issue #19: an XLSX that unpacks to 400 MB, one with 3 million rows, and a
40000×40000 PNG. Each is read in a fresh child process (so peak memory is its own) through the shared
reader (``domain.sheets``) and the photo check (``domain.photos.too_many_pixels``), with the default
limits (50 MB unpacked, 100,000 rows, 50 megapixels). Prints one table; ``python -m bench.hostile_files``.
"""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
import time
import zipfile
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
    path = _base(folder / "bomb.xlsx")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings2.xml", b"<a>" + b" " * (400 * 1024 * 1024) + b"</a>")
    return path


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


def png_bomb(folder: Path) -> Path:
    from tests.flows.test_hostile_files import png_bomb as make

    path = folder / "bomb.png"
    path.write_bytes(make(40000, 40000))
    return path


def _peak_mib() -> float:
    """This process's peak resident memory (VmHWM starts afresh at exec, unlike ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(kind: str, path: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
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


def measure(kind: str, path: Path) -> tuple[float, float, str]:
    times, peaks, outcome = [], [], ""
    ctx = multiprocessing.get_context("spawn")
    for _ in range(RUNS):
        queue = ctx.Queue()
        child = ctx.Process(target=_child, args=(kind, str(path), queue))
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
        ]
        print(f"| file | size | median of {RUNS} | peak RSS of the process | outcome |")
        print("|---|---|---|---|---|")
        for label, kind, path in cases:
            seconds, peak, outcome = measure(kind, path)
            size = path.stat().st_size / 1024
            print(f"| {label} | {size:,.0f} KiB | {seconds * 1000:,.0f} ms | {peak:,.0f} MiB | {outcome} |")


if __name__ == "__main__":
    main()
