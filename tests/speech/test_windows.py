"""Windowing and the shared encoder pass (speech/windows.py) with the real model: VAD windows of at most
30 s, and the language decision when the first window is not sure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from speech import windows as windows_module
from speech.transcriber import WhisperTranscriber, language_rule
from speech.windows import DecodeOptions, WindowDecoder, _vote, speech_windows
from tests.speech.audio_tools import read_wav, spoken

pytestmark = pytest.mark.slow

PROMPT = "以下是普通话的句子，使用简体中文。"


def long_note(audio: Path) -> np.ndarray:
    """About 45 s: the four samples twice, 1.5 s apart, as float32 like decode_file returns."""
    return spoken(audio, (1, 2, 3, 4, 1, 2, 3, 4), 1.5).astype(np.float32) / 32768.0


def test_speech_is_cut_into_windows_of_at_most_30_seconds(audio: Path) -> None:
    windows = speech_windows(long_note(audio))
    assert len(windows) == 2
    assert all(0 < len(w) <= 30 * 16000 for w in windows)
    assert speech_windows(np.zeros(5 * 16000, np.float32)) == []


def test_an_unsure_first_window_waits_for_the_next_and_both_are_decoded(
    transcriber: WhisperTranscriber, audio: Path
) -> None:
    class Unsure(WindowDecoder):
        """The real model, except that detection says what the test scripts."""

        def __init__(self, model: Any, answers: list[tuple[str, float]]) -> None:
            super().__init__(model)
            self.answers = answers

        def _detect(self, encoded: Any) -> tuple[str, float]:
            return self.answers.pop(0)

    decoder = Unsure(transcriber.load().model, [("th", 0.3), ("zh", 0.9)])
    decoded = decoder.run(
        speech_windows(long_note(audio)),
        pinned="",
        choose=language_rule,
        options_for=lambda language: DecodeOptions(beam_size=5, initial_prompt=PROMPT),
    )
    assert (decoded.language, decoded.detected, decoded.probability) == ("zh", "zh", 0.9)
    assert len(decoded.texts) == 2 and decoder.answers == []
    assert "最头疼" in decoded.texts[0] and "响应时间" in decoded.texts[1]  # in the order spoken


def test_a_window_decodes_to_at_most_its_token_budget(
    transcriber: WhisperTranscriber, audio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = WindowDecoder(transcriber.load().model)
    windows = speech_windows(read_wav(audio / "sample4.wav").astype(np.float32) / 32768.0)

    def text() -> str:
        options = DecodeOptions(beam_size=5, initial_prompt=PROMPT)
        return "".join(
            decoder.run(windows, pinned="zh", choose=language_rule, options_for=lambda _: options).texts
        )

    full = text()  # 3.6 s of speech: 18 tokens, well inside 25 a second + 20
    assert "设备科" in full and "响应时间" in full
    monkeypatch.setattr(windows_module, "TOKENS_PER_SECOND", 1)
    monkeypatch.setattr(windows_module, "TOKEN_MARGIN", 0)
    cut = text()  # a budget of 3 tokens
    assert 0 < len(cut) <= 4 and "响应时间" not in cut


def test_when_no_window_is_sure_the_most_named_language_wins() -> None:
    assert _vote([("th", 0.3), ("zh", 0.45), ("th", 0.2)]) == ("th", 0.3)
    assert language_rule("th") == "zh" and language_rule("en") == "en"
