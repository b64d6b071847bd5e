"""``actionflow check-config`` contributions for speech: is there a model, is the compute type valid, can the
vocabulary file be read cleanly. No model and a word list's skipped lines are warnings: the bot runs."""

from __future__ import annotations

from config.checks import ConfigWarning
from config.settings import Settings
from speech.model import ModelNotFound, resolve


def _supported_compute_types(device: str) -> set[str] | None:
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        return None
    return set(ctranslate2.get_supported_compute_types(device))


def check_speech(settings: Settings) -> list[str]:
    s = settings.speech
    problems: list[str] = []
    try:
        resolve(s)  # a found model, or the installed parts it is assembled from on first use
    except ModelNotFound as exc:  # the bot runs; notes are kept with the platform's text, or untranscribed
        until = (
            "Until then voice notes are not transcribed; one that comes with the platform's recognition "
            "is kept with that text."
        )
        problems.append(ConfigWarning(f"speech.model: {exc} {until}"))
    supported = _supported_compute_types(s.device)
    if supported is None:
        problems.append("speech.device is 'cuda' but no CUDA device is visible; use 'cpu'")
    elif s.compute_type not in supported | {"default", "auto"}:
        problems.append(
            f"speech.compute_type {s.compute_type!r} is not supported on {s.device} "
            f"(supported: {', '.join(sorted(supported))}); int8 is recommended on CPU"
        )
    if s.vocabulary and s.vocabulary_file is not None:
        from speech.vocabulary import read_word_list

        _, warnings = read_word_list(s.vocabulary_file)  # the bot still starts; the admin should know
        problems += [ConfigWarning(f"speech.vocabulary_file: {w}") for w in warnings]
    if s.language:
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        if s.language not in _LANGUAGE_CODES:
            problems.append(f"speech.language {s.language!r} is not a Whisper language code (e.g. zh, en)")
    return problems
