"""How well the perceptual hash tells a reused photo from a new one.

    python -m bench.photo_reuse [--scenes 20] [--seed 5] [IMAGE ...]

Pictures: ``--scenes`` generated street-like scenes (a gradient sky, buildings, noise) plus any image
files given. For each picture, copies as a chat app or a rep would make them (re-encoded at quality 40,
halved, quartered, PNG, 15 % brighter, cropped by 5 %) are compared with the original: a distance above
the threshold is a missed reuse. Every pair of different pictures is compared too: a distance at or
below the threshold is a false alarm. Also the median time of one hash.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance

from domain.photos import SIMILAR_MAX_DISTANCE, dhash, hash_distance


def scene(seed: int, size: tuple[int, int] = (1280, 960)) -> bytes:
    rng = random.Random(seed)
    width, height = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=(rng.randint(0, 40) + y // 8, 120, 220 - y // 6))
    for _ in range(rng.randint(10, 40)):
        x, y = rng.randint(0, width - 20), rng.randint(height // 6, height - 20)
        w, h = rng.randint(30, width // 3), rng.randint(30, height // 2)
        colour = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        (draw.rectangle if rng.random() < 0.6 else draw.ellipse)((x, y, x + w, y + h), fill=colour)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def _save(img: Image.Image, fmt: str = "JPEG", quality: int = 80) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


COPIES: dict[str, Callable[[Image.Image], bytes]] = {
    "quality 40": lambda i: _save(i, quality=40),
    "half size": lambda i: _save(i.resize((i.width // 2, i.height // 2)), quality=60),
    "quarter size": lambda i: _save(i.resize((max(1, i.width // 4), max(1, i.height // 4))), quality=60),
    "PNG": lambda i: _save(i, "PNG"),
    "15% brighter": lambda i: _save(ImageEnhance.Brightness(i).enhance(1.15)),
    "5% cropped": lambda i: _save(
        i.crop((i.width // 20, i.height // 20, i.width - i.width // 20, i.height - i.height // 20))
    ),
}


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--scenes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("images", nargs="*", type=Path)
    args = parser.parse_args()
    pictures = {f"scene {i}": scene(args.seed * 1000 + i) for i in range(args.scenes)}
    for path in args.images:
        pictures[path.name] = path.read_bytes()
    hashes: dict[str, str] = {}
    timings: list[float] = []
    plain = 0
    for name, data in pictures.items():
        start = time.perf_counter()
        h = dhash(data)
        timings.append(time.perf_counter() - start)
        if h is None:
            plain += 1
        elif h not in hashes.values():  # the same picture given twice is not a pair of different ones
            hashes[name] = h
    t = SIMILAR_MAX_DISTANCE
    print(f"{len(hashes)} pictures ({plain} too plain to hash), threshold {t} of 64 bits")
    print(f"one hash: median {statistics.median(timings) * 1000:.1f} ms\n")
    print("| copy | median bits | max bits | recognised |")
    print("|---|---|---|---|")
    for label, make in COPIES.items():
        distances = []
        for name, h in hashes.items():
            with Image.open(io.BytesIO(pictures[name])) as img:
                copy = dhash(make(img.convert("RGB")))
            distances.append(64 if copy is None else hash_distance(h, copy))
        caught = sum(d <= t for d in distances)
        median = statistics.median(distances)
        print(f"| {label} | {median:g} | {max(distances)} | {caught}/{len(distances)} |")
    names = list(hashes)
    pairs = [hash_distance(hashes[a], hashes[b]) for i, a in enumerate(names) for b in names[i + 1 :]]
    if pairs:
        alarms = sum(d <= t for d in pairs)
        print(
            f"\ndifferent pictures: {len(pairs)} pairs, min {min(pairs)} bits, "
            f"median {statistics.median(pairs):g} bits, false alarms {alarms}/{len(pairs)}"
        )


if __name__ == "__main__":
    main()
