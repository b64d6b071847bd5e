"""Vocabulary steering: character error rate of the base model on Mandarin neural-voice notes of the
product's domain, with no vocabulary, with the company's vocabulary at the default bound, with a long
vocabulary, and with a 50k-line word list (bounded), plus the model's confidence per note; then the
homophone repair with different word lists on the same decoding, and how many correct sentences each
list changes.

    python -m bench.vocabulary [--set held-out|samples|all] [--configs none,hotwords,...]
                               [--lists none,shipped,common50k,medical5k]

Notes: bench/data/speech/*.ogg (35 sentences written for this benchmark, never used to choose the
vocabulary; Ogg/Opus 32 kbit/s as DingTalk sends) and tests/data/audio/sample1..4.wav. The company
vocabulary is what the bot builds from the demo organisation (customers, key people), the shipped theme
dictionary and the forms' options: nothing in it was taken from the sentences. The word lists added to
the shipped one (``config/vocabulary.txt``): ``common50k``, jieba's 50,000 most frequent words of 2–6
characters; ``medical5k``, 5,000 medical terms (bench/data/speech/medical5k.txt, from a medical knowledge
graph). Correct sentences: the 39 notes' own texts, and the 608 demand sentences of bench/data (written
for the theme benchmarks in the trade's words). Prints tables; docs/speech.md and docs/benchmarks.md
record a run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from config.settings import SpeechSettings, load_settings
from domain.demo import CUSTOMERS, KEY_PERSONS
from speech import vocabulary
from speech.model import resolve
from speech.text import normalise
from speech.transcriber import WhisperTranscriber

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = ROOT / "bench" / "data" / "speech"
SAMPLES = ROOT / "tests" / "data" / "audio"
DEMANDS = ROOT / "bench" / "data"
MEDICAL = HELD_OUT / "medical5k.txt"


def cer(hypothesis: str, reference: str) -> tuple[int, int]:
    ref = normalise(reference)
    return Levenshtein.distance(normalise(hypothesis), ref), len(ref)


def notes(which: str) -> list[tuple[str, Path, str]]:
    out: list[tuple[str, Path, str]] = []
    if which in ("held-out", "all"):
        for line in (HELD_OUT / "sentences.tsv").read_text(encoding="utf-8").splitlines():
            key, said = line.split("\t", 1)
            out.append((key, HELD_OUT / f"{key}.ogg", said))
    if which in ("samples", "all"):
        for line in (SAMPLES / "samples.tsv").read_text(encoding="utf-8").splitlines():
            if line.strip():
                key, said = line.split("\t", 1)
                out.append((key, SAMPLES / f"{key}.wav", said))
    return out


def demand_sentences() -> list[str]:
    """The demand texts of the theme benchmarks: correct sentences in the trade's words."""
    out: list[str] = []
    for path in sorted(DEMANDS.glob("demands-*.tsv")):
        rows = path.read_text(encoding="utf-8").splitlines()[1:]
        out += [cells[2] for cells in (row.split("\t") for row in rows) if len(cells) > 2]
    return out


def common_words(n: int = 50_000) -> list[str]:
    """jieba's ``n`` most frequent dictionary words of 2–6 characters (一个, 中国, 我们, …)."""
    import jieba

    jieba.dt.check_initialized()
    ranked = sorted(
        ((count, word) for word, count in jieba.dt.FREQ.items() if count > 0 and 2 <= len(word) <= 6),
        reverse=True,
    )
    return [word for _, word in ranked[:n]]


def word_list(name: str, dest: Path) -> Path | None:
    """The word list of a ``--lists`` name: the shipped one, alone or with more words after it."""
    shipped = load_settings().speech.vocabulary_file
    if name == "none" or shipped is None:
        return None
    if name == "shipped":
        return Path(shipped)
    more = {"common50k": lambda: "\n".join(common_words()), "medical5k": lambda: MEDICAL.read_text("utf-8")}
    dest.write_text(Path(shipped).read_text(encoding="utf-8") + "\n" + more[name](), encoding="utf-8")
    return dest


def big_word_list(dest: Path) -> Path:
    """50k lines: the domain words, duplicates, empty lines, and bytes that are not UTF-8."""
    lines = [f"词条{i:05d}".encode() for i in range(45_000)]
    lines += [b"", b"   ", b"# comment"] * 1000
    lines += ["器械包".encode()] * 1000 + [b"\xff\xfe\xb0\xa1bad"] * 1000
    dest.write_bytes(b"\n".join(lines))
    return dest


def company(speech: SpeechSettings) -> vocabulary.Vocabulary:
    settings = load_settings()
    if speech.vocabulary_file is not None and not Path(speech.vocabulary_file).exists():
        speech = speech.model_copy(update={"vocabulary_file": settings.speech.vocabulary_file})
    return vocabulary.build(
        speech,
        customers=[c[0] for c in CUSTOMERS],
        persons=[p[1] for p in KEY_PERSONS],
        options=vocabulary.form_options(settings.forms.path),
        keywords=vocabulary.theme_keywords(settings.themes.path),
    )


def configs(base: SpeechSettings, names: list[str], tmp: Path) -> dict[str, vocabulary.Vocabulary]:
    """Decoder prompts: ``none`` puts nothing in it (the default: repair only); ``hotwords`` the bounded
    company vocabulary; ``terms<N>`` a longer bound; ``file50k`` the bound with a 50k-line word list."""
    out: dict[str, vocabulary.Vocabulary] = {}
    for name in names:
        if name == "none":
            out[name] = vocabulary.Vocabulary()
        elif name == "hotwords":
            out[name] = company(base)
        elif name.startswith("terms"):  # terms20, terms120 …: the bound moved
            n = int(name.removeprefix("terms"))
            out[name] = company(
                base.model_copy(update={"vocabulary_max_terms": n, "vocabulary_max_chars": 400})
            )
        elif name == "file50k":
            path = big_word_list(tmp / "words.txt")
            started = time.perf_counter()
            v = company(base.model_copy(update={"vocabulary_file": path}))
            print(f"50k-line word list read and bounded in {time.perf_counter() - started:.2f} s; warnings:")
            for w in v.warnings:
                print(f"  {w}")
            out[name] = v
    return out


Built = dict[str, tuple[vocabulary.Vocabulary, float]]  # a vocabulary, and seconds to build it


def repairs(base: SpeechSettings, names: list[str], tmp: Path) -> Built:
    """The company vocabulary with each word list, and the seconds its repair took to build."""
    import jieba

    jieba.dt.check_initialized()  # the dictionary is loaded once per process, not per vocabulary
    out: Built = {}
    for name in names:
        path = word_list(name, tmp / f"{name}.txt")
        started = time.perf_counter()
        if path is None:
            out[name] = (vocabulary.Vocabulary(), 0.0)
        else:
            built = company(base.model_copy(update={"vocabulary_file": path}))
            out[name] = (built, time.perf_counter() - started)
    return out


Row = tuple[int, int, str, float | None, float]  # errors, characters said, text, avg log-prob, seconds


def list_table(
    rows: list[tuple[str, Path, str]],
    plain: dict[str, Row],
    lists: Built,
) -> None:
    """Each word list's repair of the same decoding, and the correct sentences it changes."""
    said = {key: text for key, _, text in rows}
    demands = demand_sentences()
    print(
        "\n| word list (+ company records, themes, forms) | terms | compared | build s | CER held-out |"
        " CER samples | CER all | notes better / worse | correct notes' texts changed |"
        f" demand sentences changed (of {len(demands)}) | median repair ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, (vocab, build_s) in lists.items():
        fixer = vocab.fixer
        cer_of: dict[str, tuple[int, int]] = {}
        times: list[float] = []
        for key, (_, _, text, _, _) in plain.items():
            started = time.perf_counter()
            fixed = fixer.fix(text)[0] if fixer is not None else text
            times.append(time.perf_counter() - started)
            cer_of[key] = cer(fixed, said[key])

        def rate(keys: list[str], by: dict[str, tuple[int, int]] = cer_of) -> str:
            errors, total = sum(by[k][0] for k in keys), sum(by[k][1] for k in keys)
            return f"{errors / total:.3f}" if total else ""

        held = [k for k in cer_of if not k.startswith("sample")]
        samples = [k for k in cer_of if k.startswith("sample")]
        better = sum(1 for k in cer_of if cer_of[k][0] < plain[k][0])
        worse = sum(1 for k in cer_of if cer_of[k][0] > plain[k][0])
        changed = [t for t in said.values() if fixer is not None and fixer.fix(t)[1]]
        demand_changed = [t for t in demands if fixer is not None and fixer.fix(t)[1]]
        compared = fixer.compared if fixer is not None else 0
        terms = len(fixer.terms) if fixer is not None else 0
        label = name if name in ("none", "shipped") else f"shipped + {name}"
        print(
            f"| {label} | {terms} | {compared} | {build_s:.2f} | {rate(held)} | {rate(samples)} |"
            f" {rate(list(cer_of))} | {better} / {worse} | {len(changed)} of {len(said)} |"
            f" {len(demand_changed)} | {statistics.median(times) * 1000:.2f} |"
        )
        for text in changed + demand_changed:
            assert fixer is not None
            print(f"  {label} changed a correct sentence: {text} {fixer.fix(text)[1]}")


async def run(which: str, names: list[str], list_names: list[str]) -> None:
    base = SpeechSettings(worker_nice=0, num_workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        lists = repairs(base, list_names, Path(tmp))
        chosen = configs(base, names, Path(tmp))
    transcriber = WhisperTranscriber(base, resolve(base))
    transcriber.load()
    rows = notes(which)
    results: dict[str, dict[str, Row]] = {}
    default = company(base).fixer  # the default repair: the shipped word list and the demo organisation
    assert default is not None
    for name, vocab in chosen.items():
        # Decode without repair, then repair the same text: one decoding gives both rows.
        transcriber.vocabulary = vocabulary.Vocabulary(vocab.terms, vocab.available)
        print(f"\n{name}: {len(vocab.terms)} terms, {len(vocab.hotwords)} characters in the prompt")
        fixer = vocab.fixer or default
        plain: dict[str, Row] = {}
        repaired: dict[str, Row] = {}
        for key, path, said in rows:
            report = await transcriber.transcribe_report(path)
            text, logprob = report.transcript.text, report.transcript.avg_logprob
            plain[key] = (*cer(text, said), text, logprob, report.run_s)
            started = time.perf_counter()
            fixed, _ = fixer.fix(text)
            repaired[key] = (*cer(fixed, said), fixed, logprob, time.perf_counter() - started)
        results[name], results[f"{name}+repair"] = plain, repaired
    transcriber.close()

    print(
        "\n| decoder prompt (+ homophone repair) | terms in prompt | notes | CER (all characters) |"
        " mean CER per note | median s (decode, or repair) |"
    )
    print("|---|---|---|---|---|---|")
    for name, by_key in results.items():
        errors = sum(e for e, _, _, _, _ in by_key.values())
        total = sum(n for _, n, _, _, _ in by_key.values())
        per_note = statistics.mean(e / n for e, n, _, _, _ in by_key.values())
        run_s = statistics.median(r for *_, r in by_key.values())
        terms = len(chosen[name.removesuffix("+repair")].terms)
        print(f"| {name} | {terms} | {len(by_key)} | {errors / total:.3f} | {per_note:.3f} | {run_s:.2f} |")

    print("\n| note | said | " + " | ".join(results) + " | avg log-prob (" + next(iter(results)) + ") |")
    print("|---|---|" + "---|" * len(results) + "---|")
    for key, _, said in rows:
        cells = [f"{results[n][key][2]} ({results[n][key][0] / results[n][key][1]:.2f})" for n in results]
        first = results[next(iter(results))][key][3]
        print(f"| {key} | {said} | " + " | ".join(cells) + f" | {first if first is not None else ''} |")
    if lists:
        print(f"\nHomophone repair of the '{next(iter(results))}' decoding with each word list:")
        list_table(rows, results[next(iter(results))], lists)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="all", choices=["held-out", "samples", "all"])
    parser.add_argument("--configs", default="none,hotwords,terms120,file50k")
    parser.add_argument("--lists", default="none,shipped,common50k,medical5k")
    args = parser.parse_args()
    lists = [n for n in args.lists.split(",") if n]
    asyncio.run(run(args.set, args.configs.split(","), lists))


if __name__ == "__main__":
    main()
