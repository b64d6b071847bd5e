"""Speech: offline faster-whisper transcription and the verbatim-quote ledger."""
