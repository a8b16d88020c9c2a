"""Latency of a live turn on the audio timeline: the end-of-turn policy against a fixed
silence timer, both run by this script through the same virtual audio devices.

Run:  .venv/bin/python bench/turn_latency.py [--file tests/data/speech/spk1_snt1.wav] [--turns 3]
      [--policy words]

A private PulseAudio server (modules/voice/io/virtual_devices.py) gets a stereo tap:
one 16 kHz two-channel null sink whose left channel is the agent's microphone and whose
right channel is the agent's speaker. One ``parec`` of the tap's monitor holds what the agent
heard and what it said on one sample clock. ``run.py talk`` runs once with
``end_of_turn = fixed`` (the baseline: ``end_silence_s`` of silence, 0.8 s) and once with
``--policy`` (the default "model"), ``--turns`` turns each, the same recording played into
the microphone each turn.

The headline, measured on the audio timeline alone: seconds from the end of the user's
speech (the recording's last speech sample as silero-vad, unpadded, finds it, located on the
left channel) to the first sample of the reply at or above -60 dBFS on the right channel.
The stages inside the agent (its scene hops, unix time) are placed on the same timeline
through the arrival times of the tap's chunks (the earliest-arriving chunk fixes the offset:
data can arrive late, never early), so they also read as seconds after the speech ended.
Medians over the turns; the last column is policy ÷ fixed, measured in this one process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import correlate

from modules.voice.io.audio import load_audio
from modules.voice.io.virtual_devices import AudioRig, audio_rig
from modules.voice.listen.vad import SileroVAD, VadOptions

ROOT = Path(__file__).resolve().parent.parent

RATE_HZ = 16000
REPLY_FLOOR = 10 ** (-60 / 20)  # the first reply sample at or above -60 dBFS counts as heard
STAGES = [
    "voice.speech_end",
    "voice.endpoint",
    "voice.asr",
    "voice.out",
    "mind.out",
    "voice.tts.first",
    "voice.audio.first",
    "voice.played",
]
# The stereo tap (shared/AUDIO_RIG.md), loaded beside the rig's own devices: "tapmic" feeds
# the left channel, which the agent records as "tapvmic"; the agent plays into "tapspk",
# the right channel.
TAP_MODULES = [
    "module-null-sink sink_name=tap rate=16000 channels=2 channel_map=front-left,front-right",
    (
        "module-remap-sink sink_name=tapmic master=tap channels=1 master_channel_map=front-left "
        "channel_map=mono remix=no"
    ),
    (
        "module-remap-sink sink_name=tapspk master=tap channels=1 master_channel_map=front-right "
        "channel_map=mono remix=no"
    ),
    (
        "module-remap-source source_name=tapvmic master=tap.monitor channels=1 master_channel_map=front-left "
        "channel_map=mono remix=no"
    ),
]


#: the tap's sample clock is set on the wall clock over this much either side (s).
CLOCK_SPAN_S = 10.0


class TapRecorder:
    """``parec`` of the tap's monitor into memory, with each chunk's arrival time.

    ``samples()`` is (n, 2) float32 (left: heard, right: said); ``unix_s(i)`` is the unix
    time at which sample ``i`` passed through the tap, from the least delayed chunk within
    ``CLOCK_SPAN_S`` of it (the tap's sample clock and the wall clock drift apart: 0.8 s
    over a 6-minute run of ``bench/duplex.py``)."""

    def __init__(self, rig: AudioRig) -> None:
        self._proc = subprocess.Popen(
            [
                "parec",
                "--device=tap.monitor",
                "--channels=2",
                f"--rate={RATE_HZ}",
                "--format=float32le",
                "--latency-msec=10",
                "--raw",
            ],
            env=rig.env,
            stdout=subprocess.PIPE,
        )
        self._chunks: list[bytes] = []
        self._offsets_s: list[float] = []  # arrival unix time minus the chunk's end on the sample clock
        self._ends: list[int] = []  # each chunk's end on the sample clock
        self._n_bytes = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        while chunk := self._proc.stdout.read1(4096):
            now = time.time()
            self._chunks.append(chunk)
            self._n_bytes += len(chunk)
            self._offsets_s.append(now - self._n_bytes / 8 / RATE_HZ)
            self._ends.append(self._n_bytes // 8)

    def wait_running(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self._n_bytes < RATE_HZ * 8 // 10 and time.monotonic() < deadline:  # 0.1 s arrived
            time.sleep(0.02)
        if self._n_bytes == 0:
            raise SystemExit("parec delivered nothing from tap.monitor")

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._thread.join(timeout=10)

    def samples(self) -> np.ndarray:
        raw = b"".join(self._chunks)
        return np.frombuffer(raw[: len(raw) // 8 * 8], np.float32).reshape(-1, 2)

    def _offset_s(self, index: int) -> float:
        """Unix time minus sample time around sample ``index`` (the least delayed chunk)."""
        n = min(len(self._ends), len(self._offsets_s))  # (the reader may be between its two appends)
        ends, offsets = np.asarray(self._ends[:n]), np.asarray(self._offsets_s[:n])
        near = np.abs(ends - index) <= CLOCK_SPAN_S * RATE_HZ
        return float(np.min(offsets[near] if near.any() else offsets))

    def unix_s(self, index: int) -> float:
        return self._offset_s(index) + index / RATE_HZ

    def index(self, unix_s: float) -> int:
        guess = max(0, int((unix_s - min(self._offsets_s)) * RATE_HZ))
        return max(0, int((unix_s - self._offset_s(guess)) * RATE_HZ))


@dataclass
class Turn:
    speech_end_s: float  # on the tap's clock
    reply_first_s: float
    hops: dict[str, float] = field(default_factory=dict)  # stage -> unix time


@dataclass
class Utterance:
    """A 16 kHz mono WAV played into the microphone, its samples and where its speech ends."""

    path: Path
    speech: np.ndarray
    speech_end_s: float
    voice: str = ""

    @classmethod
    def of(cls, path: Path, voice: str = "") -> Utterance:
        audio = load_audio(path)
        if audio.rate_hz != RATE_HZ:
            raise SystemExit(f"{path}: play a {RATE_HZ} Hz file (the tap compares it sample by sample)")
        speech = audio.mono().astype(np.float32)
        segments = SileroVAD(VadOptions(pad_s=0.0)).segments(speech)
        return cls(path, speech, min(segments[-1][1], len(speech) / RATE_HZ), voice)


#: how long the agent may take to end after Ctrl-C (s).
STOP_TIMEOUT_S = 60.0


def fresh_data_dir(rig: AudioRig, copy_of: Path | None = None) -> str:
    """A data folder of its own for one agent (its memory and the mind's store start empty,
    as a new user's, or as a copy of the ``scenevoice`` folder of ``copy_of``, a data folder
    such as ``~/.local/share``: a memory grown by use, left as it was; it goes with the rig's
    folder). With the user's own folder, every run would add ~16 scenes per turn to one
    database, and the agent's work on a memory that grows from run to run would move the
    numbers."""
    folder = Path(tempfile.mkdtemp(prefix="data-", dir=rig.runtime))
    if copy_of is not None:
        shutil.copytree(copy_of / "scenevoice", folder / "scenevoice")
    return str(folder)


def run_agent(
    rig: AudioRig,
    utterances: list[Utterance],
    policy: str,
    settings: tuple[str, ...] = (),
    log_path: Path | None = None,
    debug: bool = False,
    data: Path | None = None,
) -> list[dict[str, float]]:
    """One ``run.py talk`` under ``policy`` (and ``--set`` ``settings``), each utterance
    played in turn; per turn, seconds after its speech ended. ``log_path``: the agent's
    log (``-v``; with ``debug``, ``-vv``) is written there. ``data``: a data folder whose
    memory the agent starts with (a copy; see :func:`fresh_data_dir`)."""
    env = {
        **rig.env,
        "PULSE_SINK": "tapspk",
        "PULSE_SOURCE": "tapvmic",
        "XDG_DATA_HOME": fresh_data_dir(rig, data),
    }
    tap = TapRecorder(rig)
    agent = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "run.py"),
            *([("-vv" if debug else "-v")] if log_path is not None else []),
            "talk",
            "--set",
            f"modules.voice.end_of_turn={policy}",
            *[arg for setting in settings for arg in ("--set", setting)],
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found: list[Turn] = []
    plays_unix_s: list[float] = []
    heard_texts: list[str] = []  # every turn the agent heard, to show when one was split
    said: list[str] = []  # the agent's stderr, read all along (a full pipe would stop it)
    listening = threading.Event()

    def read_stderr() -> None:
        for line in agent.stderr or []:
            said.append(line)
            if "listening on" in line:
                listening.set()
        listening.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    try:
        tap.wait_running()
        assert agent.stderr is not None and agent.stdout is not None
        listening.wait()
        if agent.poll() is not None or not any("listening on" in line for line in said):
            raise SystemExit(f"the agent ended before listening: {''.join(said)}")
        for utterance in utterances:
            plays_unix_s.append(time.time())
            subprocess.run(["paplay", "--device=tapmic", str(utterance.path)], env=rig.env, check=True, timeout=120)
            while True:
                line = agent.stdout.readline()
                if not line:
                    raise SystemExit(f"the agent ended mid-turn: {''.join(said[-40:])}")
                scene = json.loads(line)
                if scene["kind"] == "turn":
                    heard_texts.append(scene.get("text") or "")
                # A reply the user's own continuation cut (the turn closed at a pause inside
                # the utterance) is not the answer to it: the answer to the rest follows.
                if scene["kind"] == "spoken" and (scene.get("result") or {}).get("cut_at_s") is None:
                    break
            hops: dict[str, float] = {}
            for hop in scene["hops"]:  # the first time a stage appears (voice.out recurs)
                hops.setdefault(hop["stage"], hop["t_unix_s"])
            found.append(Turn(0.0, 0.0, hops))
            time.sleep(1.0)
        agent.send_signal(signal.SIGINT)  # Ctrl-C: the agent ends cleanly
        try:
            agent.wait(timeout=STOP_TIMEOUT_S)
            time.sleep(0.5)  # its last lines
            if any("exiting without waiting" in line for line in said):  # talk's own watchdog ended it
                print(f"the agent's stop hung; its watchdog ended it:\n{''.join(said[-150:])}", file=sys.stderr)
        except subprocess.TimeoutExpired:  # measured all the same; say where it hangs
            agent.send_signal(signal.SIGUSR1)  # its threads' stacks (agent/cli/main.py)
            time.sleep(1.0)
            agent.send_signal(signal.SIGUSR2)  # its asyncio tasks' (agent/session.py; after the session: ends it)
            time.sleep(2.0)
            stderr = "".join(said[-150:])
            print(f"the agent did not end within {STOP_TIMEOUT_S:.0f} s of Ctrl-C:\n{stderr}", file=sys.stderr)
    finally:
        if agent.poll() is None:
            agent.kill()
        tap.stop()
        if log_path is not None:
            log_path.write_text("".join(said))

    x = tap.samples()
    heard, said = x[:, 0], x[:, 1]
    rows = []
    for i, turn in enumerate(found):
        speech, speech_end_in_file_s = utterances[i].speech, utterances[i].speech_end_s
        # The recording on the left channel: best match within 3 s of when it was played.
        start = max(0, tap.index(plays_unix_s[i]) - RATE_HZ // 2)
        window = heard[start : start + 3 * RATE_HZ + len(speech)]
        # Located by the last second of speech: a dropout earlier in the stream (the sound
        # server starved while the agent computes) would shift a whole-file match.
        end_in_file = int(speech_end_in_file_s * RATE_HZ)
        tail = speech[max(0, end_in_file - RATE_HZ) : end_in_file]
        at = start + int(np.argmax(correlate(window, tail, mode="valid", method="fft")))
        placed = heard[at : at + len(tail)]
        # Bit-exact but for a few samples at a stream's start (measured: <= 3 LSB of 16 bits).
        similar = placed.size == tail.size and np.corrcoef(placed, tail)[0, 1] >= 0.98
        if not similar:
            raise SystemExit(
                f"turn {i + 1}: the end of the recording was not found on the tap's left channel "
                f"(turns heard: {heard_texts})"
            )
        turn.speech_end_s = (at + len(tail)) / RATE_HZ
        end = int(turn.speech_end_s * RATE_HZ)
        loud = np.flatnonzero(np.abs(said[end:]) >= REPLY_FLOOR)
        if loud.size == 0:
            raise SystemExit(f"turn {i + 1}: no reply on the tap's right channel")
        turn.reply_first_s = (end + int(loud[0])) / RATE_HZ
        speech_end_unix_s = tap.unix_s(end)
        row = {s: turn.hops[s] - speech_end_unix_s for s in STAGES if s in turn.hops}
        row["first reply sample"] = turn.reply_first_s - turn.speech_end_s
        # The agent spoke while the user still did (it closed the turn at a pause inside it).
        onset = int(turn.speech_end_s * RATE_HZ) - end_in_file
        row["spoke over the user"] = float(np.any(np.abs(said[max(0, onset) : end]) >= REPLY_FLOOR))
        rows.append(row)
    return rows


def tapped_rig(rig: AudioRig) -> None:
    """Load the stereo tap into ``rig`` and make its channels the default devices."""
    for module in TAP_MODULES:
        rig.pactl("load-module", *module.split())
    for command in (["set-default-sink", "tapspk"], ["set-default-source", "tapvmic"]):
        rig.pactl(*command)


def main(recording: Path, turns: int, policy: str) -> None:
    utterance = Utterance.of(recording)
    speech, speech_end_in_file_s = utterance.speech, utterance.speech_end_s
    results: dict[str, list[dict[str, float]]] = {}
    with audio_rig() as rig:
        tapped_rig(rig)
        for mode in ("fixed", policy):
            results[mode] = run_agent(rig, [utterance] * turns, mode)

    print(
        f"{recording.name}: speech ends at {speech_end_in_file_s:.2f} s of {len(speech) / RATE_HZ:.2f} s; "
        f"{turns} turns per policy (median); seconds after the end of the user's speech on the tap"
    )
    print(f"{'stage':20} {'fixed timer':>11} {policy:>11} {policy + ' ÷ fixed':>15}")
    for stage in [*STAGES[:-1], "first reply sample", STAGES[-1]]:
        fixed = statistics.median(r[stage] for r in results["fixed"])
        other = statistics.median(r[stage] for r in results[policy])
        print(f"{stage:20} {fixed:11.2f} {other:11.2f} {other / fixed:15.2f}")
    for mode, rows in results.items():
        print(f"first reply sample, each turn, {mode}: " + ", ".join(f"{r['first reply sample']:.2f}" for r in rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "tests" / "data" / "speech" / "spk1_snt1.wav")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--policy", default="model", choices=["model", "words", "prosody"])
    args = parser.parse_args()
    main(args.file, args.turns, args.policy)
