"""The real Whisper base model on real (synthetic-voice) Mandarin and English: script, language, key
phrases, error rate; AMR with DTX frames; silence; the per-note timeout; the bounded pool."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config.settings import SpeechSettings
from core.speech import Transcriber, TranscriptionRejected
from speech.text import to_simplified
from speech.transcriber import TIMEOUT, WhisperTranscriber
from tests.speech.audio_tools import encode, read_wav, silence, spoken, write_wav
from tests.speech.conftest import cer, references, sha256_of

pytestmark = pytest.mark.slow

# Words of each sample that base gets right on this voice (README of the samples); the rest are homophone
# errors (器械→气泄, 预算→运算), which is what base does.
KEY_PHRASES = {
    "sample1": ["最头疼", "问题"],
    "sample2": ["采购成本太高", "去年的八成"],
    "sample3": ["三个星期"],
    "sample4": ["设备科", "售后服务", "响应时间"],
}


def is_simplified(text: str) -> bool:
    """True when OpenCC's Traditional→Simplified conversion has nothing to change."""
    return to_simplified(text) == text


async def test_mandarin_comes_out_simplified_and_close_to_what_was_said(
    transcriber: WhisperTranscriber, audio: Path
) -> None:
    refs = references()
    reports = await asyncio.gather(*(transcriber.transcribe_report(audio / f"{n}.wav") for n in refs))
    rates = []
    for (name, reference), report in zip(refs.items(), reports, strict=True):
        text = report.transcript.text
        assert report.transcript.language == "zh", name
        assert is_simplified(text), f"{name}: Traditional characters in {text!r}"
        for phrase in KEY_PHRASES[name]:
            assert phrase in text, f"{name}: {phrase!r} missing from {text!r}"
        rates.append(cer(text, reference))
        assert rates[-1] <= 0.6, f"{name}: CER {rates[-1]:.2f} for {text!r}"
    assert sum(rates) / len(rates) <= 0.3  # base on this voice: about 0.2


async def test_english_stays_english(transcriber: WhisperTranscriber, audio: Path) -> None:
    report = await transcriber.transcribe_report(audio / "english.wav")
    text = report.transcript.text
    assert report.transcript.language == "en"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    lowered = text.lower()
    for word in ("sterilization", "tuesday", "price list", "friday"):
        assert word in lowered, f"{word!r} missing from {text!r}"


async def test_a_long_note_keeps_every_sentence_including_repeated_ones(
    transcriber: WhisperTranscriber, audio: Path, tmp_path: Path
) -> None:
    # About 54 s (two decoding windows): each sample three times, in a mixed order, one pair back to back.
    # A quote is verbatim, so every sentence must come out as often as it was said. faster-whisper's
    # long-form decoder, used before, kept only about half of this note and repeated some of it; a ban on
    # repeated 3-token runs garbled the second saying of a sentence.
    order = (3, 1, 4, 2, 2, 4, 1, 3, 1, 2, 3, 4)
    note = write_wav(tmp_path / "long.wav", spoken(audio, order, 0.7))
    report = await transcriber.transcribe_report(note)
    text = report.transcript.text
    assert report.transcript.duration_s > 50 and is_simplified(text)
    counts = {phrase: text.count(phrase) for phrases in KEY_PHRASES.values() for phrase in phrases}
    # 24 of 24 here; the long-form decoder kept 10 and the 3-token ban 16. Two may be misheard elsewhere
    # (int8 kernels differ between CPUs), none may be invented.
    assert sum(counts.values()) >= len(counts) * 3 - 2 and max(counts.values()) <= 3, (counts, text)


async def test_amr_note_with_dtx_frames_transcribes(transcriber: WhisperTranscriber, audio: Path) -> None:
    report = await transcriber.transcribe_report(audio / "sample3.amr")
    text = report.transcript.text
    assert report.transcript.audio_format == "amr-nb"
    assert is_simplified(text) and "三个星期" in text
    assert cer(text, references()["sample3"]) <= 0.5


async def test_opus_note_transcribes(transcriber: WhisperTranscriber, audio: Path, tmp_path: Path) -> None:
    note = encode(audio / "sample4.wav", tmp_path, "ogg-opus")
    transcript = await transcriber.transcribe(note)
    assert transcript.audio_format == "ogg" and "售后服务" in transcript.text


async def test_silence_gives_no_words_instead_of_made_up_ones(
    transcriber: WhisperTranscriber, tmp_path: Path
) -> None:
    quiet = write_wav(tmp_path / "quiet.wav", silence(4))
    transcript = await transcriber.transcribe(quiet)
    assert transcript.text == ""
    assert transcript.duration_s == pytest.approx(4)


async def test_a_pinned_language_is_used_without_detection(
    speech_settings: SpeechSettings, audio: Path
) -> None:
    pinned = WhisperTranscriber(speech_settings.model_copy(update={"language": "zh"}))
    try:
        report = await pinned.transcribe_report(audio / "sample2.wav")
    finally:
        pinned.close()
    assert report.transcript.language == "zh" and report.language_probability == 1.0
    assert "采购成本" in report.transcript.text


async def test_a_note_that_takes_too_long_gets_a_polite_answer(
    speech_settings: SpeechSettings, audio: Path, transcriber: WhisperTranscriber
) -> None:
    # Allow a ten-thousandth of the note's length and no grace: it cannot finish in time.
    hasty = WhisperTranscriber(speech_settings.model_copy(update={"timeout_factor": 0.0001}), grace_s=0)
    try:
        with pytest.raises(TranscriptionRejected) as info:
            await hasty.transcribe(audio / "sample1.wav")
        assert info.value.user_message == TIMEOUT
    finally:
        hasty.close()
    assert "售后服务" in (await transcriber.transcribe(audio / "sample4.wav")).text  # the model is fine


async def test_the_pool_runs_at_most_num_workers_notes_and_queues_the_rest(
    transcriber: WhisperTranscriber, audio: Path
) -> None:
    seen_running, seen_queued = [], []
    jobs = [asyncio.ensure_future(transcriber.transcribe_report(audio / f"sample{i}.wav")) for i in (1, 2, 3)]
    while not all(j.done() for j in jobs):
        seen_running.append(transcriber.in_progress)
        seen_queued.append(transcriber.queue_depth)
        await asyncio.sleep(0.01)
    reports = [j.result() for j in jobs]
    assert max(seen_running) == 2 and max(seen_queued) >= 1
    assert transcriber.in_progress == 0 and transcriber.queue_depth == 0
    waited = max(reports, key=lambda r: r.wait_s)
    assert waited.wait_s > 0.5 * min(r.run_s for r in reports)  # the third waited for a free worker


# -- the Transcriber contract ---------------------------------------------------------------------
@pytest.fixture(params=["whisper"])
def implementation(request: pytest.FixtureRequest, transcriber: WhisperTranscriber) -> Transcriber:
    """Every implementation of the speech port (handlers.context.Transcriber)."""
    return {"whisper": transcriber}[request.param]


class TestTranscriberContract:
    async def test_describes_the_audio_it_transcribed(self, implementation: Transcriber, audio: Path) -> None:
        path = audio / "sample2.wav"
        t = await implementation.transcribe(path, audio_format="wav", platform_recognition="采购成本太高了")
        assert t.text and t.language == "zh"
        assert t.audio_path == str(path) and t.audio_sha256 == sha256_of(path)
        assert t.duration_s == pytest.approx(len(read_wav(path)) / 16000, abs=0.01)
        assert t.model_name and t.model_version
        assert t.platform_recognition == "采购成本太高了"

    async def test_refuses_what_is_not_audio_in_chinese(
        self, implementation: Transcriber, data_dir: Path, tmp_path: Path
    ) -> None:
        empty = tmp_path / "empty.amr"
        empty.write_bytes(b"")
        for bad in (data_dir / "photo.jpg", empty):
            with pytest.raises(TranscriptionRejected) as info:
                await implementation.transcribe(bad)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in info.value.user_message)

    async def test_concurrent_notes_each_get_their_own_transcript(
        self, implementation: Transcriber, audio: Path
    ) -> None:
        paths = [audio / "sample2.wav", audio / "sample4.wav"]
        results = await asyncio.gather(*(implementation.transcribe(p) for p in paths))
        assert [r.audio_sha256 for r in results] == [sha256_of(p) for p in paths]
        assert "采购" in results[0].text and "售后" in results[1].text


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread priorities are read from /proc")
def test_transcription_threads_run_at_lower_priority(speech_settings: SpeechSettings) -> None:
    def niced_threads() -> int:
        count = 0
        for stat in Path("/proc/self/task").glob("*/stat"):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            count += int(fields[16]) == 7  # field 19 of stat: nice
        return count

    before = niced_threads()
    polite = WhisperTranscriber(speech_settings.model_copy(update={"worker_nice": 7}))
    try:
        polite.load()
        # The pool thread that loaded the model, and the model's own compute threads it started.
        assert niced_threads() - before >= 1 + speech_settings.num_workers
    finally:
        polite.close()
