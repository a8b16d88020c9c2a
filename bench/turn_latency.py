"""Latency of one live turn through real (virtual) audio devices, stage by stage.

Run:  .venv/bin/python bench/turn_latency.py [--file tests/data/speech/spk1_snt1.wav] [--turns 3]

Starts a private PulseAudio server (tests/audio_rig.py), runs ``run.py talk``, plays the
recording into the virtual microphone once per turn, and reads the hops of each spoken
scene. Times are seconds after the played speech ended; the ratio column divides by the
recording's duration (the baseline this machine's speed is judged against).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from audio_rig import audio_rig  # noqa: E402

STAGES = ["voice.endpoint", "voice.asr", "voice.out", "mind.out", "voice.tts.first", "voice.played"]


def main(recording: Path, turns: int) -> None:
    duration_s = sf.info(str(recording)).duration
    rows: list[dict[str, float]] = []
    with audio_rig() as rig:
        agent = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "talk", "--turns", str(turns),
                                  "--set", "modules.voice.lead_silence_s=0"],
                                 env=rig.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while "listening on" not in (line := agent.stderr.readline()):
                if not line:
                    raise SystemExit(f"the agent ended before listening: {agent.stderr.read()}")
            for _ in range(turns):
                rig.play_into_mic(recording)
                ended = time.time()
                while True:
                    scene = json.loads(agent.stdout.readline())
                    if scene["kind"] == "spoken":
                        break
                hops: dict[str, float] = {}
                for hop in scene["hops"]:  # the first time a stage appears (voice.out recurs)
                    hops.setdefault(hop["stage"], hop["t_unix_s"])
                rows.append({s: hops[s] - ended for s in STAGES if s in hops})
                time.sleep(1.0)
            agent.wait(timeout=60)
        finally:
            if agent.poll() is None:
                agent.kill()
    print(f"{recording.name}: {duration_s:.2f} s of speech, {turns} turns (median)")
    print(f"{'stage':18} {'s after speech':>14} {'÷ speech duration':>18}")
    for stage in STAGES:
        value = statistics.median(r[stage] for r in rows)
        print(f"{stage:18} {value:14.2f} {value / duration_s:18.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "tests" / "data" / "speech" / "spk1_snt1.wav")
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    main(args.file, args.turns)
