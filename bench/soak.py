"""An hour of real speech and silence through the live loop, faster than real time: does the
agent's resident memory stay flat?

    .venv/bin/python -m bench.soak [--minutes 60] [--warm-up-minutes 5]

Builds one long recording from the real ones in ``tests/data/speech`` and
``tests/data/sounds`` (sentences and sounds in a shuffled order, 1–6 s of silence between
them), then runs ``run.py talk`` on it with ``[modules.voice] input_file`` (the file as the
microphone, lockstep, as fast as the agent hears: ``modules/voice/io/file_mic.py``) and
replies written to a file — every turn heard, thought about, answered, voiced and measured,
as in a conversation. The process's resident memory (VmRSS) is sampled every 2 s, placed on
the audio's timeline by the turns it prints; the growth is the median over the 5 minutes of
audio after ``--warm-up-minutes``, against the median over the last 5 minutes of audio (the
samples while the process shuts down left out); the peak is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from agent.paths import PROJECT_ROOT
from agent.record.copy import decode_16k

DATA = PROJECT_ROOT / "tests" / "data"
RATE_HZ = 16_000
#: the windows of audio time whose median resident memory is compared (s).
WINDOW_S = 300.0


def build(minutes: float, out: Path, seed: int = 7) -> float:
    """Write ``minutes`` of speech, sounds and silence to ``out``; returns its seconds."""
    rng = random.Random(seed)
    clips = [decode_16k(p) for p in sorted((DATA / "speech").iterdir()) if p.suffix in (".wav", ".flac")]
    clips += [decode_16k(p) for p in sorted((DATA / "sounds").glob("*.wav"))[:6]]
    total = round(minutes * 60 * RATE_HZ)
    with sf.SoundFile(out, "w", RATE_HZ, 1, "PCM_16") as handle:
        written = 0
        while written < total:
            clip = rng.choice(clips)
            gap = np.zeros(round(rng.uniform(1.0, 6.0) * RATE_HZ), np.float32)
            piece = np.concatenate([clip, gap])[: total - written]
            handle.write(piece)
            written += len(piece)
    return total / RATE_HZ


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--warm-up-minutes", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scenevoice-soak-") as tmp:
        audio = Path(tmp) / "soak.wav"
        seconds = build(args.minutes, audio)
        print(f"{seconds / 60:.0f} min of speech, sounds and silence in {audio}", flush=True)
        env = {**os.environ, "XDG_DATA_HOME": f"{tmp}/data", "TQDM_DISABLE": "1"}
        sets = [
            f"modules.voice.input_file={json.dumps(str(audio))}",
            f"modules.voice.output={json.dumps(tmp + '/r.wav')}",
        ]
        command = [sys.executable, str(PROJECT_ROOT / "run.py"), "talk"]
        for s in sets:
            command += ["--set", s]
        started = time.monotonic()
        talk = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        position = {"s": 0.0, "turns": 0, "spoken": 0}

        def follow() -> None:
            assert talk.stdout is not None
            for line in talk.stdout:
                try:
                    scene = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if scene.get("kind") == "turn" and scene.get("t_end") is not None:
                    position["s"], position["turns"] = float(scene["t_end"]), position["turns"] + 1
                elif scene.get("kind") == "spoken":
                    position["spoken"] += 1

        threading.Thread(target=follow, daemon=True).start()
        samples: list[tuple[float, float, float]] = []  # (wall s, audio s, RSS MB)
        while talk.poll() is None:
            try:
                samples.append((time.monotonic() - started, position["s"], rss_mb(talk.pid)))
            except (OSError, ValueError):
                break
            if len(samples) % 30 == 0:
                wall, at, mb = samples[-1]
                print(f"  {wall / 60:5.1f} min: audio at {at / 60:5.1f} min, {mb:6.0f} MB", flush=True)
            time.sleep(2.0)
        wall = time.monotonic() - started
    warm = [s for s in samples if s[1] >= args.warm_up_minutes * 60]
    if not warm:
        raise SystemExit(f"the run ended before {args.warm_up_minutes} min of audio (exit {talk.returncode})")
    # Two windows of audio time, each 5 min: just after the warm-up, and the last before the
    # end of the file (the samples while the process shuts down are left out).
    last_turn_s = max(s[1] for s in samples)
    first = [s[2] for s in warm if s[1] < warm[0][1] + WINDOW_S]
    last = [s[2] for s in samples if last_turn_s - WINDOW_S <= s[1] <= last_turn_s and s[1] > warm[0][1] + WINDOW_S]
    start_mb, end_mb = float(np.median(first)), float(np.median(last or first))
    peak_mb = max(s[2] for s in warm)
    print(
        f"exit {talk.returncode}; {position['turns']} turns, {position['spoken']} replies voiced; "
        f"{seconds / 60:.0f} min of audio in {wall / 60:.1f} min ({seconds / wall:.1f}× real time)"
    )
    print(
        f"resident memory, median over 5 min of audio after {args.warm_up_minutes:g} min: {start_mb:.0f} MB; "
        f"over the last 5 min: {end_mb:.0f} MB; growth {end_mb - start_mb:+.1f} MB (goal ≤ 50 MB); "
        f"peak {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
