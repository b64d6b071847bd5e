"""Test-audio helpers: re-encode a WAV into the other formats voice notes arrive in (with PyAV's real
encoders), write silence, join clips."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np

RATE = 16_000

# container format, codec, file suffix
FORMATS = {
    "ogg-opus": ("ogg", "libopus", ".ogg"),
    "mp3": ("mp3", "libmp3lame", ".mp3"),
    "m4a-aac": ("ipod", "aac", ".m4a"),
    "webm-opus": ("webm", "libopus", ".webm"),
    "flac": ("flac", "flac", ".flac"),
    "amr-nb-no-dtx": ("amr", "libopencore_amrnb", ".amr"),
}


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def spoken(audio: Path, order: tuple[int, ...], pause_s: float) -> np.ndarray:
    """The samples ``sample<i>.wav`` in ``order``, each followed by ``pause_s`` of silence (int16)."""
    samples = {i: read_wav(audio / f"sample{i}.wav") for i in set(order)}
    pause = silence(pause_s)
    return np.concatenate([x for i in order for x in (samples[i], pause)])


def encode(source: Path, dest_dir: Path, kind: str) -> Path:
    """Encode a 16 kHz mono WAV as ``kind`` (a key of FORMATS)."""
    container_format, codec, suffix = FORMATS[kind]
    samples = read_wav(source)
    rate = 8000 if codec == "libopencore_amrnb" else (48000 if "opus" in codec else RATE)
    dest = dest_dir / f"{source.stem}-{kind}{suffix}"
    with av.open(str(dest), "w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate)
        assert isinstance(stream, av.AudioStream)  # codec is an audio encoder's name (a plain str here)
        stream.layout = "mono"
        if codec == "libopencore_amrnb":
            stream.bit_rate = 12200
        resampler = av.AudioResampler(format=stream.format, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame_size = stream.codec_context.frame_size or 1024
        pending = [f for f in resampler.resample(frame)] + [f for f in resampler.resample(None)]
        data = np.concatenate([f.to_ndarray().reshape(f.to_ndarray().shape[0], -1) for f in pending], axis=1)
        pts = 0
        for start in range(0, data.shape[1], frame_size):
            chunk = np.ascontiguousarray(data[:, start : start + frame_size])
            if chunk.shape[1] < frame_size and codec in ("libopencore_amrnb", "libopus", "aac", "libmp3lame"):
                chunk = np.pad(chunk, ((0, 0), (0, frame_size - chunk.shape[1])))
            f = av.AudioFrame.from_ndarray(chunk, format=stream.format.name, layout="mono")
            f.sample_rate = rate
            f.pts = pts
            pts += chunk.shape[1]
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dest
