"""How far apart a platform's recognition and the local transcript are, for a correct platform text and
for wrong ones: the figures behind ``domain.quotes.DISAGREEMENT_THRESHOLD``.

    python -m bench.doubt [--set held-out|samples|all] [--no-repair]

Each note (bench/data/speech/*.ogg and tests/data/audio/sample1..4.wav) is transcribed once with the
bot's settings and its default vocabulary repair. Its transcript is then compared (``disagreement``) with
a correct platform text (what was said) and with wrong ones: the last third or half of what was said
replaced by the end of the next note's sentence, and the nearest other sentence of the set. Prints the
distribution per case, how many the threshold flags, and the figures per note; docs/speech.md records a
run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Callable

from bench.vocabulary import company, notes
from config.settings import SpeechSettings
from domain.quotes import DISAGREEMENT_THRESHOLD, LOGPROB_THRESHOLD, disagreement
from speech import vocabulary
from speech.model import resolve
from speech.transcriber import WhisperTranscriber

Row = tuple[str, str, str, float | None]  # key, what was said, local transcript, avg log-probability


async def transcribe(which: str, repair: bool) -> list[Row]:
    settings = SpeechSettings(worker_nice=0, num_workers=1)
    transcriber = WhisperTranscriber(settings, resolve(settings))
    transcriber.load()
    transcriber.vocabulary = company(settings) if repair else vocabulary.Vocabulary()
    rows: list[Row] = []
    try:
        for key, path, said in notes(which):
            t = await transcriber.transcribe(path)
            rows.append((key, said, t.text, t.avg_logprob))
    finally:
        transcriber.close()
    return rows


def spliced(said: str, other: str, share: float) -> str:
    """``said`` with its last ``share`` replaced by as many characters from the end of ``other``."""
    keep = round(len(said) * (1 - share))
    tail = len(said) - keep
    return said[:keep] + other[len(other) - tail :]


def cases(rows: list[Row]) -> dict[str, Callable[[int], str]]:
    said = [r[1] for r in rows]

    def nearest_other(i: int) -> str:
        return min((s for j, s in enumerate(said) if j != i), key=lambda s: disagreement(rows[i][2], s))

    return {
        "correct (what was said)": lambda i: said[i],
        "last third from another sentence": lambda i: spliced(said[i], said[(i + 1) % len(said)], 1 / 3),
        "last half from another sentence": lambda i: spliced(said[i], said[(i + 1) % len(said)], 1 / 2),
        "the nearest other sentence": nearest_other,
    }


def report(rows: list[Row]) -> None:
    table = cases(rows)
    figures = {
        name: [disagreement(r[2], make(i)) for i, r in enumerate(rows)] for name, make in table.items()
    }
    print(f"\n{len(rows)} notes; threshold {DISAGREEMENT_THRESHOLD} (flagged when above)\n")
    print("| platform text | min | median | max | flagged |")
    print("|---|---|---|---|---|")
    for name, values in figures.items():
        flagged = sum(v > DISAGREEMENT_THRESHOLD for v in values)
        print(
            f"| {name} | {min(values):.2f} | {statistics.median(values):.2f} | {max(values):.2f} "
            f"| {flagged} of {len(values)} |"
        )
    low = sum(1 for r in rows if r[3] is not None and r[3] < LOGPROB_THRESHOLD)
    print(
        f"\nlocal transcripts below the log-probability threshold ({LOGPROB_THRESHOLD}): {low} of {len(rows)}"
    )
    print("\n| note | said | local transcript | avg log-prob | distance to what was said |")
    print("|---|---|---|---|---|")
    correct = figures["correct (what was said)"]
    for (key, said, text, logprob), value in zip(rows, correct, strict=True):
        print(f"| {key} | {said} | {text} | {logprob if logprob is not None else ''} | {value:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="all", choices=["held-out", "samples", "all"])
    parser.add_argument("--no-repair", action="store_true", help="the decoder's text, without the repair")
    args = parser.parse_args()
    report(asyncio.run(transcribe(args.set, not args.no_repair)))


if __name__ == "__main__":
    main()
