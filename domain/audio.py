"""Which audio container a voice note is, from its first bytes (platforms do not always say)."""

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
