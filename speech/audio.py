"""Audio in: sniff the container, decode to 16 kHz mono float32, refuse what is not a usable voice note.

AMR goes through PyAV's bundled opencore decoders: FFmpeg's native AMR decoder raises on the DTX/SID
(comfort-noise) frames real WeCom notes contain. Everything else (Ogg/Opus, WAV, MP3,
M4A/AAC, WebM, FLAC) goes through FFmpeg's own decoders. Decoding stops as soon as a note is over the
length limit, so an hour-long file costs no more than the limit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext

from core.speech import TranscriptionRejected

SAMPLE_RATE = 16_000

NOT_AUDIO = (
    "收到的文件不是可识别的语音，无法转写（支持 AMR、Opus/OGG、WAV、MP3、M4A）。"
    "原文件已保存，请按住说话重新录一条。"
)
EMPTY = "这条语音是空的，没有录到声音。请重新录一条。"
SILK = "这条语音是微信 SILK 格式，暂不支持转写。原文件已保存，请在企业微信或钉钉里按住说话重新录一条。"
UNREADABLE = "这条语音读取失败，无法转写。原文件已保存，请重新发送一次。"

# Magic bytes → format name. AMR files have a text header; the rest are the usual container signatures.
_AMR_NB = b"#!AMR\n"
_AMR_WB = b"#!AMR-WB\n"


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono, 16 kHz, in [-1, 1]
    format: str
    sha256: str

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def sniff(head: bytes) -> str:
    """The container format from the first bytes (``""`` when unknown: FFmpeg's probe decides then)."""
    if head.startswith(_AMR_WB):
        return "amr-wb"
    if head.startswith(_AMR_NB):
        return "amr-nb"
    if head.startswith(b"#!SILK") or head[1:].startswith(b"#!SILK"):
        return "silk"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if head.startswith(b"fLaC"):
        return "flac"
    return ""


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} 分 {secs} 秒" if minutes else f"{secs} 秒"


class _Collector:
    """Resamples decoded frames to 16 kHz mono s16 and stops once the note is over the limit."""

    def __init__(self, max_duration_s: float) -> None:
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self.chunks: list[np.ndarray] = []
        self.samples = 0
        self.limit = int(max_duration_s * SAMPLE_RATE)
        self.max_duration_s = max_duration_s

    def add(self, frame: av.AudioFrame | None) -> None:
        if frame is not None:
            frame.pts = None
        for out in self.resampler.resample(frame):
            chunk = out.to_ndarray().reshape(-1)
            self.chunks.append(chunk)
            self.samples += len(chunk)
        if self.samples > self.limit:
            raise TranscriptionRejected(
                f"这条语音超过 {format_duration(self.max_duration_s)} 的上限，无法转写。"
                "原文件已保存；请分成几段、每段不超过上限再发。",
                f"audio longer than {self.max_duration_s:g} s",
            )

    def result(self) -> np.ndarray:
        self.add(None)  # flush the resampler
        if not self.chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self.chunks).astype(np.float32) / 32768.0


def _decode_amr(path: Path, decoder: str, collector: _Collector) -> None:
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        ctx = cast(AudioCodecContext, av.CodecContext.create(decoder, "r"))
        ctx.sample_rate = stream.codec_context.sample_rate or (16000 if decoder.endswith("wb") else 8000)
        ctx.layout = "mono"
        for packet in container.demux(stream):  # the final empty packet flushes the decoder
            for frame in ctx.decode(packet):
                collector.add(frame)


def _decode_ffmpeg(path: Path, collector: _Collector) -> None:
    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise TranscriptionRejected(NOT_AUDIO, "no audio stream")
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            try:
                for frame in packet.decode():
                    collector.add(cast(av.AudioFrame, frame))
            except av.error.InvalidDataError:
                continue  # a damaged frame: skip it, as FFmpeg's own tools do


def decode_file(path: Path, *, max_duration_s: float) -> DecodedAudio:
    """Decode ``path``; raise :class:`TranscriptionRejected` (Chinese, for the rep) when it is unusable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TranscriptionRejected(UNREADABLE, f"cannot read {path}: {exc}") from exc
    if not data:
        raise TranscriptionRejected(EMPTY, "empty file")
    fmt = sniff(data[:16])
    if fmt == "silk":
        raise TranscriptionRejected(SILK, "SILK audio")
    collector = _Collector(max_duration_s)
    try:
        if fmt in ("amr-nb", "amr-wb"):
            _decode_amr(path, "libopencore_amrnb" if fmt == "amr-nb" else "libopencore_amrwb", collector)
        else:
            _decode_ffmpeg(path, collector)
    except TranscriptionRejected:
        raise
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise TranscriptionRejected(NOT_AUDIO, f"cannot decode {path.name}: {exc}") from exc
    samples = collector.result()
    if len(samples) == 0:
        raise TranscriptionRejected(EMPTY, "no samples decoded")
    return DecodedAudio(
        samples=samples, format=fmt or Path(path).suffix.lstrip(".").lower(), sha256=_sha(data)
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
