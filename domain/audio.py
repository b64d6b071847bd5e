"""Which audio container a voice note is, from its first bytes (platforms do not always say), and how long
it is, from its container (used when no local model decodes it)."""

from __future__ import annotations

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"#!AMR-WB\n", "amr-wb"),
    (b"#!AMR\n", "amr"),
    (b"#!SILK_V3", "silk"),
    (b"\x02#!SILK_V3", "silk"),
    (b"OggS", "ogg"),
    (b"fLaC", "flac"),
    (b"ID3", "mp3"),
    (b"\x1aE\xdf\xa3", "webm"),
)
_CONTENT_TYPES = {
    "audio/amr": "amr",
    "audio/amr-wb": "amr-wb",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mp4": "m4a",
    "audio/x-m4a": "m4a",
    "audio/aac": "aac",
    "audio/webm": "webm",
}


def sniff_audio_format(data: bytes, content_type: str = "") -> str:
    """``amr``, ``ogg``, ``wav``, ``mp3``, ``m4a``… or ``""`` when unknown."""
    head = data[:16]
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "m4a"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "aac" if head[1] & 0x06 == 0 else "mp3"
    return _CONTENT_TYPES.get(content_type.split(";", maxsplit=1)[0].strip().lower(), "")


# Bytes per stored frame (table of contents byte included) by frame type; every frame is 20 ms.
_AMR_FRAME = {
    "amr": (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1),
    "amr-wb": (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1),
}
_AMR_FRAME["amr-nb"] = _AMR_FRAME["amr"]
_AMR_HEADER = {"amr": len(b"#!AMR\n"), "amr-nb": len(b"#!AMR\n"), "amr-wb": len(b"#!AMR-WB\n")}


def _amr_seconds(data: bytes, fmt: str) -> float:
    sizes, at, frames = _AMR_FRAME[fmt], _AMR_HEADER[fmt], 0
    while at < len(data):
        at += sizes[(data[at] >> 3) & 0x0F]
        frames += 1
    return frames * 0.02


def _wav_seconds(data: bytes) -> float | None:
    at, byte_rate = 12, 0
    while at + 8 <= len(data):
        chunk, size = data[at : at + 4], int.from_bytes(data[at + 4 : at + 8], "little")
        if chunk == b"fmt " and size >= 12:
            byte_rate = int.from_bytes(data[at + 16 : at + 20], "little")
        elif chunk == b"data" and byte_rate:
            return min(size, len(data) - at - 8) / byte_rate
        at += 8 + size + (size & 1)
    return None


def _ogg_seconds(data: bytes) -> float | None:
    last = data.rfind(b"OggS")
    if last < 0 or last + 14 > len(data):
        return None
    granule = int.from_bytes(data[last + 6 : last + 14], "little", signed=True)
    head = data[:512]
    if (at := head.find(b"OpusHead")) >= 0 and at + 12 <= len(head):
        return max(granule - int.from_bytes(head[at + 10 : at + 12], "little"), 0) / 48_000
    if (at := head.find(b"\x01vorbis")) >= 0 and at + 16 <= len(head):
        rate = int.from_bytes(head[at + 12 : at + 16], "little")
        return granule / rate if rate else None
    return None


def duration_s(data: bytes, fmt: str) -> float | None:
    """A voice note's length read from its container (AMR, WAV, Ogg Opus/Vorbis) without decoding it;
    None for other formats or a header that makes no sense."""
    if fmt in _AMR_FRAME:
        seconds: float | None = _amr_seconds(data, fmt)
    elif fmt == "wav":
        seconds = _wav_seconds(data)
    elif fmt == "ogg":
        seconds = _ogg_seconds(data)
    else:
        return None
    return round(seconds, 3) if seconds is not None and 0 < seconds < 24 * 3600 else None
