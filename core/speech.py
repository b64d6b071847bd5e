"""The speech port: audio file in, transcript out. ``speech/`` implements it; handlers use it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

# ``model_name`` of a note no local model transcribed: its quote's text is the platform's recognition.
NO_LOCAL_MODEL = "none"


@dataclass(frozen=True)
class Transcript:
    """A transcription result, as the speech port returns it."""

    text: str
    language: str
    duration_s: float
    model_name: str
    model_version: str
    audio_path: str
    audio_sha256: str
    audio_format: str
    platform_recognition: str | None = None
    # How sure the model was (Whisper's measures, worst window): mean token log-probability and the
    # gzip compression ratio of the text (high = repetitive). None when not measured.
    avg_logprob: float | None = None
    compression_ratio: float | None = None

    @property
    def local(self) -> bool:
        """Whether a local model made ``text`` (False: no model was available; ``text`` is empty)."""
        return self.model_name != NO_LOCAL_MODEL


def platform_only(
    *,
    platform_recognition: str,
    duration_s: float,
    audio_path: str,
    audio_sha256: str,
    audio_format: str,
) -> Transcript:
    """A note with the platform's recognition and no local transcript (no local model is available)."""
    return Transcript(
        text="",
        language="",
        duration_s=round(duration_s, 3),
        model_name=NO_LOCAL_MODEL,
        model_version="no local speech model",
        audio_path=audio_path,
        audio_sha256=audio_sha256,
        audio_format=audio_format,
        platform_recognition=platform_recognition,
    )


class TranscriptionRejected(Exception):
    """The audio cannot be transcribed; ``user_message`` (Chinese) tells the rep why."""

    def __init__(self, user_message: str, detail: str = "") -> None:
        super().__init__(detail or user_message)
        self.user_message = user_message


class NoSpeechModel(TranscriptionRejected):
    """No local model can be loaded: the note can still be kept with the platform's recognition."""


class Transcriber(Protocol):
    """The speech port (implemented by ``speech``): audio file in, transcript out, off the event loop."""

    async def transcribe(
        self, path: Path, *, audio_format: str = "", platform_recognition: str | None = None
    ) -> Transcript: ...


@runtime_checkable
class TranscriberLoad(Protocol):
    """How busy the transcriber is (the admins' 系统状态 shows it)."""

    @property
    def queue_depth(self) -> int: ...  # notes waiting for a worker

    @property
    def in_progress(self) -> int: ...

    last_wait_s: float  # how long the last note waited for a worker
    notes_done: int
