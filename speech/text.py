"""Transcript clean-up: drop what Whisper made up (echoed prompts and hotwords, repeated segments, its
well-known subtitle-credit hallucinations), join segments, and force Simplified Chinese.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable

import opencc

# Whole segments Whisper is known to invent from silence or noise (subtitle credits of its training data).
_HALLUCINATIONS = re.compile(
    r"中文字幕|字幕(制作|製作|提供|由|志愿者|組|组)|请不吝点赞|請不吝點贊|订阅.{0,4}(点赞|转发)|"
    r"明镜与点点栏目|明鏡與點點欄目|優優獨播劇場|优优独播剧场|YoYo Television|Amara\.org|"
    r"^\s*(thanks|thank you) for watching[.!]?\s*$|^\s*subtitles by",
    re.IGNORECASE,
)

_local = threading.local()


def to_simplified(text: str) -> str:
    """Traditional → Simplified (OpenCC t2s); one converter per thread."""
    converter = getattr(_local, "t2s", None)
    if converter is None:
        converter = _local.t2s = opencc.OpenCC("t2s")
    return str(converter.convert(text))


def normalise(text: str) -> str:
    """Letters and digits only (punctuation, spaces and symbols removed), case-folded, Simplified."""
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")
    return to_simplified(kept).casefold()


def _is_echo(norm: str, prompt_norm: str, hotword_tokens: list[str]) -> bool:
    if len(norm) >= 3 and prompt_norm and norm in prompt_norm:
        return True
    if not hotword_tokens:
        return False
    joined = "".join(hotword_tokens)
    if len(norm) >= 2 and norm in joined:
        return True
    # A segment made only of (pieces of) hotwords, e.g. "骨科耗 器械包 骨科耗 器械包".
    rest = norm
    for token in sorted(hotword_tokens, key=len, reverse=True):
        rest = rest.replace(token, "")
    for token in hotword_tokens:
        for size in range(len(token) - 1, 1, -1):
            for start in range(len(token) - size + 1):
                rest = rest.replace(token[start : start + size], "")
    return rest == "" and norm != ""


def clean_segments(segments: Iterable[str], *, prompt: str = "", hotwords: str = "") -> tuple[list[str], int]:
    """The segments worth keeping, and how many were dropped."""
    prompt_norm = normalise(prompt)
    hotword_tokens = [normalise(h) for h in hotwords.split() if normalise(h)]
    kept: list[str] = []
    dropped = 0
    previous = ""
    for raw in segments:
        text = raw.strip()
        norm = normalise(text)
        if (
            not norm
            or _HALLUCINATIONS.search(text)
            or _is_echo(norm, prompt_norm, hotword_tokens)
            or norm == previous
        ):
            dropped += 1
            continue
        kept.append(text)
        previous = norm
    return kept, dropped


_CJK = r"[\u3400-\u9fff\uf900-\ufaff]"
_HALF_TO_FULL = {",": "，", "?": "？", "!": "！", ";": "；", ":": "："}
_HALF_PUNCT = re.compile(rf"(?<={_CJK})\s*([,?!;:])\s*")


def chinese_punctuation(text: str) -> str:
    """Half-width punctuation after a Chinese character becomes full-width (Whisper mixes them)."""
    return _HALF_PUNCT.sub(lambda m: _HALF_TO_FULL[m.group(1)], text)


def join_segments(segments: list[str], language: str) -> str:
    if language == "zh":
        return chinese_punctuation(to_simplified("".join(segments))).strip()
    return " ".join(segments).strip()
