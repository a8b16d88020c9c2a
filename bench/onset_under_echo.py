"""How soon the voice activity detector hears a user who starts over the agent's voice, with
the live loop's own echo canceller fed offline from a recording of the stereo tap.

Run:  .venv/bin/python bench/duplex.py --tap TAP.wav > OUT.txt    # the live run (~14 min)
      .venv/bin/python bench/onset_under_echo.py TAP.wav OUT.txt   # ~2 min

``bench/duplex.py`` records what the agent heard (left) and played (right) on one sample
clock and prints each interruption's onset on it. Here the same ``EchoCanceller`` (WebRTC
AEC3) cleans the left channel with the right as its reference, aligned as the tap aligns
them (the rig's loopback delay, ``--delay-ms``), and Silero VAD runs on what it leaves, 32 ms
at a time: for each onset, how long until the speech probability first reaches 0.1–0.5 (at the
end of the frame that reaches it), and on how many frames where only the agent spoke it did,
in how many stretches (each would hold the speaker once: what a lower threshold would
cost; the backchannel rounds after the last interruption are left out). Set beside the live
run's silences on the speaker, the difference is what the live path adds (the block, the
decision, the hold reaching the speaker: ~75 ms, ``docs/benchmarks.md``).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modules.voice.io.echo import EchoCanceller, FarEnd
from modules.voice.listen.vad import SileroVAD
from modules.voice.rates import RATE_HZ

FRAME = 512
THRESHOLDS = (0.1, 0.15, 0.2, 0.3, 0.5)
#: the backchannel rounds follow the last interruption after this long (s): not "the agent alone".
LAST_ROUND_S = 6.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tap", type=Path, help="bench/duplex.py --tap's WAV (16 kHz stereo)")
    ap.add_argument("output", type=Path, help="bench/duplex.py's printed output (the onsets)")
    ap.add_argument("--delay-ms", type=float, default=50.0, help="the echo loopback's delay on the tap")
    args = ap.parse_args()
    x, rate = sf.read(args.tap, dtype="float32")
    if rate != RATE_HZ or x.ndim != 2:
        raise SystemExit(f"{args.tap}: want a 16 kHz stereo WAV")
    mic, spk = x[:, 0], x[:, 1]
    far = FarEnd()
    canceller = EchoCanceller(far)
    canceller.delay.delay_s, canceller.delay.locked = args.delay_ms / 1000, True
    block = RATE_HZ // 50
    cleaned = []
    for k in range(0, len(mic) - block, block):  # as the live loop: the speaker's block first
        far.append(spk[k : k + block])
        cleaned.append(canceller.process(mic[k : k + block]))
    clean = np.concatenate(cleaned)
    vad = SileroVAD()
    probs = np.array([vad.frame_probability(clean[k : k + FRAME]) for k in range(0, len(clean) - FRAME, FRAME)])
    onsets = [float(m) for m in re.findall(r"barge-in at +([0-9.]+) s", args.output.read_text())]
    firsts: dict[float, list[float]] = {t: [] for t in THRESHOLDS}
    user = np.zeros(len(probs), bool)
    for at in onsets:
        f = at * RATE_HZ / FRAME
        user[max(0, int(f) - 5) : int(f) + 200] = True
        row = []
        for t in THRESHOLDS:
            hit = next((i for i in range(int(f) - 3, min(len(probs), int(f) + 60)) if probs[i] >= t), None)
            # timed at the frame's end, when it can be judged (its start, until 2026-12-01: 32 ms early)
            ms = (hit + 1 - f) * FRAME / RATE_HZ * 1000 if hit is not None else float("nan")
            firsts[t].append(ms)
            row.append(f"p>={t}: {ms:4.0f} ms")
        print(f"onset {at:7.2f} s: " + ", ".join(row))
    for t in THRESHOLDS:
        print(f"speech probability >= {t}: median {statistics.median(firsts[t]):.0f} ms after the onset")
    level = np.array([np.sqrt(np.mean(spk[k : k + FRAME] ** 2)) for k in range(0, len(clean) - FRAME, FRAME)])
    agent_only = (level > 10 ** (-45 / 20)) & ~user
    agent_only[int((max(onsets) + LAST_ROUND_S) * RATE_HZ / FRAME) :] = False  # the backchannels' part
    minutes = agent_only.sum() * FRAME / RATE_HZ / 60
    for t in THRESHOLDS:
        share = float(np.mean(probs[agent_only] >= t)) * 100
        above = agent_only & (probs >= t)
        holds = int(np.sum(above[1:] & ~above[:-1]) + above[0])  # each stretch above would hold once
        print(
            f"frames where only the agent spoke ({agent_only.sum()}, {minutes:.1f} min): >= {t} on {share:.1f} %, "
            f"{holds} stretches ({holds / minutes:.1f} a minute)"
        )


if __name__ == "__main__":
    main()
