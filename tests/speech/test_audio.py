"""Decoding what the platforms deliver, and refusing what is not a usable voice note with a clear
Chinese message."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.speech import TranscriptionRejected
from speech.audio import decode_file, sniff
from tests.speech.audio_tools import FORMATS, encode, silence, write_wav


def test_amr_with_dtx_frames_decodes_through_opencore(audio: Path) -> None:
    """FFmpeg's native AMR decoder (what faster-whisper uses) fails on DTX/SID frames; ours does not."""
    from faster_whisper.audio import decode_audio

    with pytest.raises(Exception, match=r"patches welcome|Not yet implemented"):
        decode_audio(str(audio / "sample3.amr"))
    decoded = decode_file(audio / "sample3.amr", max_duration_s=300)
    wav = decode_file(audio / "sample3.wav", max_duration_s=300)
    assert decoded.format == "amr-nb"
    assert abs(decoded.duration_s - wav.duration_s) < 0.1
    assert decoded.samples.dtype.name == "float32" and 0.1 < abs(decoded.samples).max() <= 1.0


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_every_delivered_format_decodes_to_the_same_length(audio: Path, tmp_path: Path, kind: str) -> None:
    encoded = encode(audio / "sample4.wav", tmp_path, kind)
    decoded = decode_file(encoded, max_duration_s=300)
    assert abs(decoded.duration_s - 3.575) < 0.1
    assert abs(decoded.samples).max() > 0.1


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.amr", b"", "空的"),
        ("header-only.amr", b"#!AMR\n", "空的"),
        ("notes.txt", "客户说太贵了\n".encode() * 50, "不是可识别的语音"),
        ("random.ogg", bytes(range(256)) * 40, "不是可识别的语音"),
        ("wechat.silk", b"\x02#!SILK_V3" + bytes(200), "SILK"),
    ],
)
def test_unusable_files_are_refused_politely(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(TranscriptionRejected) as info:
        decode_file(path, max_duration_s=300)
    assert words in info.value.user_message
    assert path.read_bytes() == content  # the original is left as it was


def test_a_photo_is_not_a_voice_note(data_dir: Path) -> None:
    with pytest.raises(TranscriptionRejected, match="no audio stream") as info:
        decode_file(data_dir / "photo.jpg", max_duration_s=300)
    assert "原文件已保存" in info.value.user_message


def test_over_long_notes_are_refused_without_decoding_all_of_them(tmp_path: Path) -> None:
    long = write_wav(tmp_path / "long.wav", silence(75))
    with pytest.raises(TranscriptionRejected) as info:
        decode_file(long, max_duration_s=60)
    assert "超过 1 分 0 秒 的上限" in info.value.user_message
    assert decode_file(long, max_duration_s=300).duration_s == pytest.approx(75)


def test_sniffing_names_the_container() -> None:
    assert sniff(b"#!AMR-WB\n") == "amr-wb"
    assert sniff(b"#!AMR\n\x3c") == "amr-nb"
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff(b"OggS\x00") == "ogg"
    assert sniff(b"\x00\x00\x00\x20ftypM4A ") == "m4a"
    assert sniff(b"hello") == ""
