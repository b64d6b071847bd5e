"""Visit photos: EXIF capture time and GPS, and a stamped copy (time, customer, place) as a watermark."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageStat, UnidentifiedImageError

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME = 306
DATETIME_ORIGINAL = 36867
DATETIME_DIGITIZED = 36868
OFFSET_TIME_ORIGINAL = 36881


class NotAnImage(ValueError):
    pass


@dataclass(frozen=True)
class PhotoMeta:
    taken_at: datetime | None
    gps_lat: float | None
    gps_lon: float | None
    width: int
    height: int


def _offset(text: Any) -> timezone | None:
    if not isinstance(text, str) or len(text) < 6 or text[0] not in "+-":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(delta if text[0] == "+" else -delta)


def _exif_time(value: Any, offset: Any, tz: ZoneInfo) -> datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    try:
        naive = datetime.strptime(value.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    return naive.replace(tzinfo=_offset(offset) or tz)


def _degrees(dms: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    if isinstance(ref, str) and ref.strip().upper() in ("S", "W"):
        value = -value
    return round(value, 7)


# Pixels a photo may have before it is decoded (a 40000×40000 PNG of a few KB would need gigabytes).
# 50 megapixels is above any phone camera's full resolution.
MAX_PIXELS = 50_000_000


class ImageTooLarge(NotAnImage):
    def __init__(self, pixels: int) -> None:
        super().__init__(f"{pixels} pixels is over the limit of {MAX_PIXELS}")
        self.pixels = pixels


def _open(data: bytes) -> Image.Image:
    """The picture with its size read from the header only; refused before decoding when too large."""
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # "Image size (N pixels) exceeds limit of …"
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise ImageTooLarge(int(found.group(1)) if found else 0) from exc
    if img.width * img.height > MAX_PIXELS:
        img.close()
        raise ImageTooLarge(img.width * img.height)
    return img


def too_many_pixels(data: bytes) -> str:
    """A plain Chinese reason when ``data`` is a picture too large to decode, else ``""`` (header only)."""
    try:
        with _open(data):
            return ""
    except ImageTooLarge as exc:
        size = f"{exc.pixels // 10000} 万像素" if exc.pixels else "像素过多"
        return f"图片太大（{size}），无法处理。请压缩或截图后重新发送。"
    except (NotAnImage, UnidentifiedImageError, OSError):
        return ""


def is_image(data: bytes) -> bool:
    """Whether Pillow recognises the bytes as a picture (it reads the header only; a picture too large
    to decode still counts, and is refused where it would be decoded)."""
    try:
        with Image.open(io.BytesIO(data)):
            return True
    except Image.DecompressionBombError:
        return True
    except (UnidentifiedImageError, OSError):
        return False


def read_meta(data: bytes, tz: ZoneInfo) -> PhotoMeta:
    """Capture time (DateTimeOriginal, else DateTime; its offset tag, else ``tz``) and GPS, if present."""
    try:
        with _open(data) as img:
            exif = img.getexif()
            size = img.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NotAnImage(str(exc)) from exc
    sub = exif.get_ifd(EXIF_IFD)
    taken = _exif_time(
        sub.get(DATETIME_ORIGINAL) or sub.get(DATETIME_DIGITIZED) or exif.get(DATETIME),
        sub.get(OFFSET_TIME_ORIGINAL),
        tz,
    )
    gps = exif.get_ifd(GPS_IFD)
    lat = _degrees(gps.get(2), gps.get(1)) if 2 in gps else None
    lon = _degrees(gps.get(4), gps.get(3)) if 4 in gps else None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    return PhotoMeta(taken, lat, lon, size[0], size[1])


def stamp(data: bytes, lines: list[str], font_path: Path, *, max_px: int = 1600) -> bytes:
    """A JPEG copy, upright and at most ``max_px`` on its long side, with ``lines`` on a dark band."""
    try:
        with _open(data) as opened:
            opened.draft("RGB", (max_px, max_px))  # JPEG: decode at a reduced scale, much faster
            img = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NotAnImage(str(exc)) from exc
    img.thumbnail((max_px, max_px))
    width, height = img.size
    size = max(12, min(width, height) // 22)
    font = ImageFont.truetype(str(font_path), size=size, index=0)
    pad = max(4, size // 3)
    band = len(lines) * (size + pad) + pad
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.rectangle((0, height - band, width, height), fill=(0, 0, 0, 150))
    y = height - band + pad
    for line in lines:
        draw.text((pad * 2, y), line, font=font, fill=(255, 255, 255, 235))
        y += size + pad
    stamped = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    out = io.BytesIO()
    stamped.save(out, format="JPEG", quality=85)
    return out.getvalue()


HASH_BITS = 64
SIMILAR_MAX_DISTANCE = 6  # of 64 bits; see docs/flows.md for the measured spread


PLAIN_MAX_STDDEV = 6.0  # grey levels: below this a picture is too plain to compare by its hash


def dhash(data: bytes) -> str | None:
    """64-bit difference hash (16 hex digits): each bit says whether a pixel of a 9×8 grey thumbnail
    is brighter than its right-hand neighbour. Re-encoding, resizing and mild recompression change
    few bits; another scene changes about half of them. None for a nearly uniform picture (a covered
    lens, a blank wall): all of those hash alike, so only the exact file can be recognised."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("L", (128, 128))  # JPEG: decode at a reduced scale
            img = ImageOps.exif_transpose(opened).convert("L")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise NotAnImage(str(exc)) from exc
    if ImageStat.Stat(img.resize((32, 32))).stddev[0] < PLAIN_MAX_STDDEV:
        return None
    small = img.resize((9, 8), Image.Resampling.LANCZOS)
    px = small.tobytes()  # one byte per grey pixel, row by row
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = bits << 1 | int(px[row * 9 + col] > px[row * 9 + col + 1])
    return f"{bits:016x}"


def hash_distance(a: str, b: str) -> int:
    """Number of differing bits between two :func:`dhash` values."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
