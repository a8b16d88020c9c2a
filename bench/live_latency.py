"""Live latency on the audio timeline: end of the user's speech → first sample of the
reply, over many utterances from several voices, through ``run.py talk`` and the virtual
sound card.

Run:  .venv/bin/python bench/live_latency.py [--policy model] [--baseline] [--details] [--log FILE [--debug]]
          [--data DIR] [--set KEY=VALUE ...]

The rig, the stereo tap and the measurement are those of ``bench/turn_latency.py``: what
the agent hears (left) and says (right) on one sample clock; the end of speech is the
played recording's last speech sample (silero-vad, unpadded) located on the left channel,
the reply's first sample the first one at or above −60 dBFS on the right. Utterances
(21, five voices): the real recordings of ``tests/data/speech`` (spk1 ×5, LJ Speech, JFK,
each voice of the stereo file) and the Piper voice ``joe`` saying the twelve sentences of
``bench/turn_set.py`` — all resampled to 16 kHz 16-bit WAV files (peak ≤ 0.9) in a temporary folder. One agent
process hears them all, in order, one turn each. Reported: p50 and p95 of the first reply
sample, and the median of each stage (the agent's scene hops, placed on the same
timeline). ``--baseline`` runs the fixed 0.8 s silence timer first, in the same process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import turn_set
from bench.turn_latency import RATE_HZ, STAGES, Utterance, run_agent, tapped_rig
from modules.voice.io.virtual_devices import audio_rig

REAL = ("spk1_snt1.wav", "spk1_snt2.wav", "spk1_snt3.wav", "spk1_snt4.wav", "spk1_snt5.wav", "LJ050-0131.wav")
REAL += ("jfk.flac", "stereo_diarization.wav/left", "stereo_diarization.wav/right")


def _safe(samples: np.ndarray) -> np.ndarray:
    """Peak at most 0.9 (resampling overshoots; the sound server would clip what the tap compares)."""
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples * (0.9 / peak) if peak > 0.9 else samples


def utterances(folder: Path) -> list[Utterance]:
    """Every utterance as a 16 kHz WAV in ``folder``, alternating real and Piper voices."""
    real, piper = [], []
    for name in REAL:
        path = folder / (name.replace(".", "-").replace("/", "-") + ".wav")
        sf.write(path, _safe(turn_set.load(name)), RATE_HZ, subtype="PCM_16")
        real.append(
            Utterance.of(path, name.split("_snt")[0].split(".")[0] + ("/" + name.split("/")[1] if "/" in name else ""))
        )
    for k, (text, _) in enumerate(turn_set.SENTENCES):
        path = folder / f"piper{k + 1}.wav"
        sf.write(path, _safe(turn_set.piper_speech(text)), RATE_HZ, subtype="PCM_16")
        piper.append(Utterance.of(path, "piper-joe"))
    mixed = [u for pair in zip(real, piper) for u in pair]
    return mixed + real[len(piper) :] + piper[len(real) :]


def report(name: str, rows: list[dict[str, float]], voices: list[str], details: bool = False) -> None:
    """Latency over the turns the agent let finish; the turns it cut (it answered at a
    pause inside the utterance, over the user's voice) are counted apart. ``details``:
    every turn's stages too."""
    whole = [r for r in rows if not r["spoke over the user"]]
    first = np.array([r["first reply sample"] for r in whole])
    print(
        f"{name}: {len(rows)} utterances, {len(set(voices))} voices; answered over the user (cut at a pause "
        f"inside the utterance): {len(rows) - len(whole)}; the other {len(whole)}, first reply sample after the "
        f"end of speech: p50 {np.percentile(first, 50):.2f} s, p95 {np.percentile(first, 95):.2f} s, "
        f"max {first.max():.2f} s"
    )
    for stage in [*STAGES[:-1], "first reply sample"]:
        values = [r[stage] for r in whole if stage in r]
        if values:
            print(f"    {stage:20} median {statistics.median(values):5.2f} s")
    print(
        "    each utterance: "
        + ", ".join(
            f"{v}:{'cut' if r['spoke over the user'] else format(r['first reply sample'], '.2f')}"
            for v, r in zip(voices, rows)
        )
    )
    if details:
        short = [stage.split(".", 1)[-1] for stage in [*STAGES[:-1], "first reply sample"]]
        print("    " + " ".join(f"{s[:10]:>10}" for s in ["voice", *short]))
        for v, r in zip(voices, rows):
            cells = [f"{r[s]:10.2f}" if s in r else f"{'-':>10}" for s in [*STAGES[:-1], "first reply sample"]]
            print(f"    {v[:10]:>10} " + " ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="model", choices=["model", "words", "prosody", "fixed"])
    ap.add_argument("--baseline", action="store_true", help="also run the fixed 0.8 s silence timer first")
    ap.add_argument("--details", action="store_true", help="print every turn's stages")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override for talk")
    ap.add_argument("--log", type=Path, help="write the agent's log (-v) here")
    ap.add_argument("--debug", action="store_true", help="with --log: the agent's debug log (-vv)")
    ap.add_argument("--utterances", type=int, help="only the first N utterances (a quick look)")
    ap.add_argument(
        "--data",
        type=Path,
        help="start with a copy of this data folder's memory (e.g. ~/.local/share: one grown by use);"
        " default: an empty one",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        said = utterances(Path(tmp))[: args.utterances]
        voices = [u.voice for u in said]
        with audio_rig() as rig:
            tapped_rig(rig)
            if args.baseline:
                report("fixed timer 0.8 s", run_agent(rig, said, "fixed", tuple(args.set)), voices, args.details)
            rows = run_agent(rig, said, args.policy, tuple(args.set), args.log, args.debug, args.data)
            report(args.policy, rows, voices, args.details)


if __name__ == "__main__":
    main()
