"""Speech: real-time factor of 10 s and 60 s notes on 2 cores, model load time, peak RSS, throughput with
two concurrent notes, and other users' event latency (through the bot harness) while notes are
transcribed, against idle.

    python -m bench.speech [--runs-10 5] [--runs-60 3] [--rate 40] [--burst 6] [--rounds 3]

Clips are built from the Mandarin samples in tests/data/audio joined by 0.9 s silences. Prints tables;
docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import threading
import time
import wave
from pathlib import Path

import numpy as np
import psutil

from bot.testing import BotHarness, make_settings
from config.settings import SpeechSettings
from core.events import Event, TextEvent
from speech.ledger import QuoteLedger
from speech.model import resolve
from speech.transcriber import WhisperTranscriber

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "audio"
RATE = 16_000


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def build_clip(seconds: float, dest: Path) -> Path:
    """Mandarin samples, 0.9 s of silence between them, repeated and cut to exactly ``seconds``."""
    parts = [read_wav(SAMPLES / f"sample{i}.wav") for i in (1, 2, 3, 4)]
    gap = np.zeros(int(0.9 * RATE), dtype=np.int16)
    out: list[np.ndarray] = [np.zeros(int(0.3 * RATE), dtype=np.int16)]
    total, i = len(out[0]), 0
    target = int(seconds * RATE)
    while total < target:
        out += [parts[i % len(parts)], gap]
        total += len(parts[i % len(parts)]) + len(gap)
        i += 1
    clip = np.concatenate(out)[:target]
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(clip.tobytes())
    return dest


class RssSampler:
    """Samples this process's RSS every 10 ms; ``peak`` since the last ``reset``."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def reset(self) -> int:
        now = self.proc.memory_info().rss
        self.peak = now
        return now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


async def rtf_runs(t: WhisperTranscriber, clip: Path, runs: int) -> list[float]:
    return [(await t.transcribe_report(clip)).run_s for _ in range(runs)]


async def concurrent(t: WhisperTranscriber, clips: list[Path]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    reports = await asyncio.gather(*(t.transcribe_report(c) for c in clips))
    return time.perf_counter() - start, [r.wait_s + r.run_s for r in reports]


async def event_latency(
    t: WhisperTranscriber, tmp: Path, notes: list[Path], *, rate: float, events: int, users: int = 20
) -> tuple[list[float], float]:
    """Other users send 帮助 at ``rate``/s (open loop) while ``notes`` (one per rep) go through the
    dispatcher and the transcriber. With notes, only events sent while a note is still unanswered count,
    and sending stops when the last note is answered; without, ``events`` are sent. Returns the counted
    events' submit→handled latencies and the notes' wall time."""
    data = tmp / f"h{time.monotonic_ns()}"
    data.mkdir()
    settings = make_settings(data)
    async with BotHarness(data, settings=settings, transcriber=t, quotes=QuoteLedger()) as bot:
        others = [f"u{i:02d}" for i in range(users)]
        reps = [f"rep{i}" for i in range(len(notes))]
        for h in others + reps:
            await bot.add_user(h)
        app = bot.app
        original = app.dispatcher.process
        done: dict[str, float] = {}

        async def timed(event: Event) -> None:
            await original(event)
            done[event.event_id] = time.perf_counter()

        app.dispatcher.process = timed  # type: ignore[method-assign]
        voice_start = time.perf_counter()
        for rep, note in zip(reps, notes, strict=True):
            await bot.console.voice(rep, note)

        def notes_pending() -> bool:  # voice events have uuid ids, the others t0, t1, …
            return sum(1 for k in done if not k.startswith("t")) < len(notes)

        submitted: dict[str, float] = {}
        start = time.perf_counter()
        i = 0
        while (notes_pending() if notes else i < events) and i < 100_000:
            due = start + i / rate
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            eid = f"t{i}"
            submitted[eid] = time.perf_counter()
            await app.submit(
                TextEvent(channel="console", event_id=eid, sender_id=others[i % users], text="帮助")
            )
            i += 1
        voice_wall = time.perf_counter() - voice_start if notes else 0.0
        await app.idle()
        return [done[k] - submitted[k] for k in submitted], voice_wall


async def run(args: argparse.Namespace) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="af-speech-bench-"))
    clip10 = build_clip(10, tmp / "clip10.wav")
    clip60 = build_clip(60, tmp / "clip60.wav")
    clip60b = build_clip(60, tmp / "clip60b.wav")
    settings = SpeechSettings(models_dir=ROOT / "models")
    sampler = RssSampler()
    r: dict[str, float] = {"rss_start": sampler.reset() / 1e6}

    t = WhisperTranscriber(settings, resolve(settings))
    r["load_s"] = (await asyncio.to_thread(t.load)).load_s  # the first load in this process
    r["rss_loaded"] = sampler.reset() / 1e6

    await t.transcribe_report(clip10)  # warm-up
    sampler.reset()
    runs10 = await rtf_runs(t, clip10, args.runs_10)
    runs60 = await rtf_runs(t, clip60, args.runs_60)
    r["rss_peak_one"] = sampler.peak / 1e6
    r.update(
        t10_med=statistics.median(runs10),
        t10_max=max(runs10),
        t60_med=statistics.median(runs60),
        t60_max=max(runs60),
    )

    sampler.reset()
    seq_start = time.perf_counter()
    await t.transcribe_report(clip60)
    await t.transcribe_report(clip60b)
    r["seq_two_s"] = time.perf_counter() - seq_start
    cpu0 = sum(psutil.Process().cpu_times()[:2])
    wall, lat = await concurrent(t, [clip60, clip60b])
    r["conc_cores"] = (sum(psutil.Process().cpu_times()[:2]) - cpu0) / wall  # cores we actually got
    r["conc_two_s"], r["conc_lat_a"], r["conc_lat_b"] = wall, min(lat), max(lat)
    r["rss_peak_two"] = sampler.peak / 1e6

    sampler.reset()
    # p99 of one round's ~300 events is its 4th-worst and swings 1.3-3x between runs on a shared host;
    # pooling rounds makes it a figure worth comparing. Idle gets the same number of events.
    busy: list[float] = []
    busy_wall = 0.0
    for _ in range(args.rounds):
        lat, wall = await event_latency(t, tmp, [clip60, clip60b], rate=args.rate, events=0)
        busy += lat
        busy_wall += wall
    idle, _ = await event_latency(t, tmp, [], rate=args.rate, events=len(busy))
    burst, burst_wall = await event_latency(t, tmp, [clip10] * args.burst, rate=args.rate, events=0)
    r.update(
        idle_p50=pct(idle, 50) * 1000,
        idle_p99=pct(idle, 99) * 1000,
        busy_p50=pct(busy, 50) * 1000,
        busy_p99=pct(busy, 99) * 1000,
        busy_wall=busy_wall,
        busy_n=len(busy),
        burst_p50=pct(burst, 50) * 1000,
        burst_p99=pct(burst, 99) * 1000,
        burst_max=max(burst) * 1000,
        burst_wall=burst_wall,
        rss_peak_bot=sampler.peak / 1e6,  # the notes went through the bot (harness, SQLite, outbox)
        rss_peak_process=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    )
    sampler.stop()
    t.close()
    # For comparison (after the memory figures: this loads a second copy of the model): the same two notes
    # with transcription threads at the bot's own priority (speech.worker_nice = 0).
    same = WhisperTranscriber(settings.model_copy(update={"worker_nice": 0}), resolve(settings))
    await asyncio.to_thread(same.load)
    flat, flat_wall = await event_latency(same, tmp, [clip60, clip60b], rate=args.rate, events=0)
    same.close()
    r.update(flat_p50=pct(flat, 50) * 1000, flat_p99=pct(flat, 99) * 1000, flat_wall=flat_wall)
    r["load_avg"] = os.getloadavg()[0]
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs-10", type=int, default=5)
    parser.add_argument("--runs-60", type=int, default=3)
    parser.add_argument("--rate", type=float, default=40.0, help="other users' events per second")
    parser.add_argument("--burst", type=int, default=6, help="10 s notes sent at once in the burst case")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of two 60 s notes pooled for other users' latency"
    )
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))[:2]
    os.sched_setaffinity(0, cpus)  # the project's machine kind has 2 cores; pin to 2 wherever we run
    load_before = os.getloadavg()[0]
    r = asyncio.run(run(args))
    ok = {True: "yes", False: "**no**"}
    print(
        "Speech (Whisper base, int8, cpu_threads=1, num_workers=2, "
        f"worker_nice={SpeechSettings().worker_nice}; "
        f"pinned to CPUs {cpus}; load average {load_before:.2f} before, {r['load_avg']:.2f} after)"
    )
    print("| measure | value | target |\n|---|---|---|")
    print(f"| model load (first in this process; page cache warm) | {r['load_s']:.2f} s | |")
    print(
        f"| 10 s note: median / max of {args.runs_10} | {r['t10_med']:.2f} / {r['t10_max']:.2f} s "
        f"(RTF {r['t10_med'] / 10:.3f}) | max ≤ 3 s: {ok[r['t10_max'] <= 3]} |"
    )
    print(
        f"| 60 s note: median / max of {args.runs_60} | {r['t60_med']:.2f} / {r['t60_max']:.2f} s "
        f"(RTF {r['t60_med'] / 60:.3f}) | RTF ≤ 0.12: {ok[r['t60_med'] / 60 <= 0.12]} |"
    )
    print(
        f"| two 60 s notes: one after the other / at once | {r['seq_two_s']:.2f} / {r['conc_two_s']:.2f} s "
        f"({120 / r['conc_two_s']:.1f} audio-s per s at once; latencies {r['conc_lat_a']:.1f} and "
        f"{r['conc_lat_b']:.1f} s; CPU used: {r['conc_cores']:.2f} cores) | |"
    )
    print(
        f"| RSS: start / model loaded / peak one note / peak two at once | {r['rss_start']:.0f} / "
        f"{r['rss_loaded']:.0f} / {r['rss_peak_one']:.0f} / {r['rss_peak_two']:.0f} MB | "
        f"≤ 700 MB: {ok[r['rss_peak_two'] <= 700]} |"
    )
    print(
        f"| peak RSS while notes go through the bot (two at once, a burst) | {r['rss_peak_bot']:.0f} MB | "
        f"≤ 700 MB: {ok[r['rss_peak_bot'] <= 700]} |"
    )
    print(f"| peak RSS of the whole benchmark process (ru_maxrss) | {r['rss_peak_process']:.0f} MB | |")
    idle = f"{r['idle_p50']:.1f} / {r['idle_p99']:.1f} ms"
    print(f"| other users' 帮助 at {args.rate:g}/s, idle: p50 / p99 | {idle} | |")
    print(
        f"| … while two 60 s notes are transcribed ({args.rounds} rounds, {r['busy_wall']:.1f} s, "
        f"{r['busy_n']:.0f} events): "
        "p50 / p99 | "
        f"{r['busy_p50']:.1f} / {r['busy_p99']:.1f} ms | p99 ≤ 2× idle: "
        f"{ok[r['busy_p99'] <= 2 * r['idle_p99']]} |"
    )
    print(
        f"| … the same with worker_nice = 0 ({r['flat_wall']:.1f} s): p50 / p99 | "
        f"{r['flat_p50']:.1f} / {r['flat_p99']:.1f} ms | |"
    )
    print(
        f"| … while {args.burst} 10 s notes arrive at once ({r['burst_wall']:.1f} s): p50 / p99 / max | "
        f"{r['burst_p50']:.1f} / {r['burst_p99']:.1f} / {r['burst_max']:.1f} ms | |"
    )


if __name__ == "__main__":
    main()
