"""Decoding a note window by window, with one encoder pass per window.

Whisper reads audio in 30 s windows; running its encoder over a window is the largest single cost (about
0.9 s for base int8 on one core). faster-whisper's ``detect_language`` encodes the first window and
``transcribe`` encodes it again, so a short note paid for two encoder passes. Here the speech found by
VAD is cut at pauses into windows of at most 30 s (what faster-whisper's batched pipeline does), each
window is encoded once, and the same encoder output is used to detect the language and to decode the
text. The detection rule is faster-whisper's ``detect_language(language_detection_segments=3)``: the first
of up to three windows whose top language is more likely than 0.5 decides, otherwise the language most
windows voted for. Each window may decode to a number of tokens in proportion to its length
(:func:`token_budget`): with temperature 0 there are no retries, and this bounds what a decoder that
loops on a short note can cost.

Measured on 2 cores against the batched pipeline plus a separate detection step: the same text, a
10 s note ≈ 1 s faster (docs/speech.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speech.audio import SAMPLE_RATE

WINDOW_S = 30
DETECT_WINDOWS = 3
DETECT_THRESHOLD = 0.5
# Pauses this long may end a window; faster-whisper's batched pipeline uses the same.
MIN_PAUSE_MS = 160
# Tokens a window may decode to: speech here ran at 3.5–6 tokens a second (Mandarin and English), so
# 25 a second plus 20 leaves room for fast talkers while a decoder stuck repeating itself on a short
# note stops after about a second of extra work instead of running to Whisper's 448-token limit.
TOKENS_PER_SECOND = 25
TOKEN_MARGIN = 20


def token_budget(samples: int, prompt_tokens: int, model_max: int) -> int:
    """``max_length`` for one window: its prompt plus what its duration can plausibly hold."""
    text = int(TOKENS_PER_SECOND * samples / SAMPLE_RATE) + TOKEN_MARGIN
    return min(model_max, prompt_tokens + text)


@dataclass(frozen=True)
class DecodeOptions:
    """What the decoder needs once the language is known."""

    beam_size: int
    no_repeat_ngram_size: int = 0
    initial_prompt: str = ""
    hotwords: str = ""


@dataclass(frozen=True)
class Decoded:
    language: str  # as chosen by the caller's rule
    detected: str  # what the model said ("" when the language was pinned)
    probability: float
    texts: list[str]  # one per window
    # Mean token log-probability per window (faster-whisper's avg_logprob: cumulative log-probability
    # over tokens + 1), the model's own measure of how sure it was.
    logprobs: list[float] = field(default_factory=list)


def speech_windows(samples: np.ndarray) -> list[np.ndarray]:
    """The speech in ``samples`` (Silero VAD), joined and cut at pauses into windows of at most 30 s.
    Empty when there is no speech."""
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    stamps = get_speech_timestamps(
        samples, VadOptions(max_speech_duration_s=WINDOW_S, min_silence_duration_ms=MIN_PAUSE_MS)
    )
    if not stamps:
        return []
    chunks, _ = collect_chunks(samples, stamps, max_duration=WINDOW_S)
    return [c for c in chunks if c.size]


def _vote(votes: list[tuple[str, float]]) -> tuple[str, float]:
    """faster-whisper's fallback when no window was sure: the language most windows named, and its best
    probability."""
    counts: dict[str, list[float]] = {}
    for language, probability in votes:
        counts.setdefault(language, []).append(probability)
    language = max(counts, key=lambda k: len(counts[k]))
    return language, max(counts[language])


class WindowDecoder:
    """Language detection and decoding on shared encoder outputs, for one loaded ``WhisperModel``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def _features(self, window: np.ndarray) -> np.ndarray:
        from faster_whisper.audio import pad_or_trim

        return pad_or_trim(self.model.feature_extractor(window)[..., :-1])

    def _detect(self, encoded: Any) -> tuple[str, float]:
        """The most likely language of one encoded window and its probability."""
        token, probability = self.model.model.detect_language(encoded)[0][0]  # ("<|zh|>", 0.97)
        return str(token)[2:-2], float(probability)

    def _decode(self, encoded: Any, samples: int, language: str, options: DecodeOptions) -> tuple[str, float]:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        model = self.model
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, "transcribe", language)
        prompt = model.get_prompt(
            tokenizer,
            tokenizer.encode(" " + options.initial_prompt.strip()) if options.initial_prompt else [],
            without_timestamps=True,
            hotwords=options.hotwords or None,
        )
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=options.beam_size,
            max_length=token_budget(samples, len(prompt), model.max_length),
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)),
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            return_scores=True,
        )[0]
        tokens = result.sequences_ids[0]
        # ctranslate2's score is the cumulative log-probability divided by length (length_penalty 1)
        avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1) if result.scores else 0.0
        return str(tokenizer.decode(tokens)), avg_logprob

    def run(
        self,
        windows: list[np.ndarray],
        *,
        pinned: str,
        choose: Callable[[str], str],
        options_for: Callable[[str], DecodeOptions],
        check: Callable[[], None] = lambda: None,
    ) -> Decoded:
        """Decode ``windows`` in order. ``pinned`` skips detection; otherwise ``choose`` maps the detected
        language to the one to decode in. ``check`` runs between windows and may raise to give up."""
        texts: list[str] = []
        logprobs: list[float] = []
        language, detected, probability = pinned, "", 1.0
        waiting: list[tuple[Any, int]] = []  # windows encoded before the language was decided
        votes: list[tuple[str, float]] = []
        for window in windows:
            check()
            encoded = self.model.encode(self._features(window))
            if not language:
                top, top_probability = self._detect(encoded)
                waiting.append((encoded, len(window)))
                if top_probability > DETECT_THRESHOLD:
                    detected, probability = top, top_probability
                else:
                    votes.append((top, top_probability))
                    if len(votes) < min(DETECT_WINDOWS, len(windows)):
                        continue
                    detected, probability = _vote(votes)
                language = choose(detected)
                for earlier, length in waiting:
                    text, logprob = self._decode(earlier, length, language, options_for(language))
                    texts.append(text)
                    logprobs.append(logprob)
                    check()
                waiting.clear()
                continue
            text, logprob = self._decode(encoded, len(window), language, options_for(language))
            texts.append(text)
            logprobs.append(logprob)
        return Decoded(language, detected, probability, texts, logprobs)
