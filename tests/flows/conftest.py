"""The real speech model for the voice-quote flow tests (shared with the speech tests' fixtures)."""

from tests.speech.conftest import audio, model_dir, speech_settings, transcriber

__all__ = ["audio", "model_dir", "speech_settings", "transcriber"]
