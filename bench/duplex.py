"""Full duplex through the virtual sound card: the agent's own voice coming back into its
microphone, users who talk over it, and listeners who only say "mm-hm".

Run:  .venv/bin/python bench/duplex.py [--echo-ms 50] [--utterances 8] [--rounds 4] [--set KEY=VALUE]   # ~6 min
      [--skip-echo] [--log FILE] [--trace]   # --trace: each barge-in's live log lines, from its onset

One ``run.py talk`` in the stereo-tap rig of ``bench/turn_latency.py`` (what the agent hears
on the left, what it says on the right, one sample clock), with PulseAudio's loopback from
the speaker into the microphone (``--echo-ms`` of delay, 0 dB: the agent hears itself as
loud as it plays), so every reply comes back as echo. Three parts, in one process:

1. **Echo.** Utterances (real recordings and Piper sentences of ``bench/live_latency.py``)
   played one by one; after each, the agent's reply and 1.5 s of quiet. Counted: turns
   heard, replies, *self-answers* (a turn whose words are mostly the agent's own recent
   words, ``listen/echo_guard.py``'s test), and replies cut while no user spoke (the agent
   interrupted by its own voice).
2. **Barge-in.** A question, and ``BARGE_AFTER_S`` into its reply (found on the tap: the
   right channel above −45 dBFS), once the reply has sounded for ``SOUNDING_S`` without a
   pause (inside a sentence, not at its end), another voice talks over it (through one
   ``pacat`` already running, ``MicPlayer``: within ~30 ms). Measured on the tap: from
   the interrupting speech's onset (the recording located on the left channel by normalised
   cross-correlation; its speech begins 15 dB above its own noise floor, ``speech_onset``)
   to the start of the speaker's first ≥ 0.25 s below −60 dBFS (word
   gaps in a reply are shorter; the next reply is seconds away); whether the reply
   was cut (its ``spoken`` scene's ``cut_at_s``), and whether the interruption was heard
   whole (its turn holds ≥ 60 % of the words of the recording's published text).
3. **Backchannels.** A question, and into its reply "Yeah.", "Okay." or "Mm-hmm." (Piper's
   joe, two semitones up: there are no real ones among the recordings); counted: replies
   that went on to their end (not cut), and backchannels taken for turns.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import queue
import re
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
import soundfile as sf
from scipy.signal import correlate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import live_latency, turn_set
from bench.turn_latency import RATE_HZ, ROOT, TapRecorder, fresh_data_dir, tapped_rig
from modules.voice.io.virtual_devices import AudioRig, audio_rig
from modules.voice.listen.echo_guard import is_own_words, words

#: the source of the speaker's channel that the echo loopback reads.
SPEAKER_SOURCE = (
    "module-remap-source source_name=tapspkmon master=tap.monitor channels=1 master_channel_map=front-right "
    "channel_map=mono remix=no"
)
#: how far into a reply the barge-in starts (s after its first sound on the tap).
BARGE_AFTER_S = 0.8
#: ... once the reply has sounded this long without a pause (s).
SOUNDING_S = 0.3
#: the speaker counts as sounding at or above this (as bench/turn_latency.py: -60 dBFS).
SOUND_FLOOR = 10 ** (-60 / 20)
#: a stretch of the microphone's channel whose energy is below this share of the
#: interruption's (−40 dB) cannot hold it.
MATCH_FLOOR = 0.01
#: a located interruption that matches worse than this (normalised correlation) is not timed.
MATCH_MIN = 0.3
#: the speaker has stopped when this much silence follows (s).
STOPPED_S = 0.25
#: the least time the agent can take from an onset to silence on the speaker (ms): a sample's
#: way to the capture callback (12 ms) and a hold's to silence (44 ms at the least), measured on
#: the rig (``docs/benchmarks.md``, "A hold below the VAD's threshold…"). A silence that begins
#: sooner is a pause of the reply's own, which the hold then kept: listed apart, not timed.
REACTION_FLOOR_MS = 56
QUESTIONS = ("spk1_snt1.wav", "spk1_snt3.wav", "spk1_snt4.wav", "spk1_snt5.wav")
#: interrupting voices, with the text published with each recording (MANIFEST.json).
#: (JFK's 1.1 s pause after "Americans" is longer than a turn waits; he is not among them.)
INTERRUPTIONS = (
    ("stereo_diarization.wav/right", "The horizon seems extremely distant."),
    ("stereo_diarization.wav/left", "He began a confused complaint against the wizard"),
    ("spk1_snt2.wav", "Drop the two when you add the figures"),
    ("LJ050-0131.wav", "unless a system is established for the frequent formal review"),
)
BACKCHANNELS = ("Yeah.", "Okay.", "Mm-hmm.")
WAIT_S = 90.0
#: the wall-clock time that starts each line of the agent's log under ``-v``.
LOG_LINE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d\d\d) ")


@dataclass
class Heard:
    """A scene the agent printed, with the unix time it arrived."""

    at_s: float
    scene: dict = field(repr=False)

    @property
    def kind(self) -> str:
        return self.scene["kind"]


class Agent:
    """``run.py talk`` in the tapped rig; its scenes are read on a thread."""

    def __init__(self, rig: AudioRig, verbose: int = 0, settings: tuple[str, ...] = ()) -> None:
        env = {**rig.env, "PULSE_SINK": "tapspk", "PULSE_SOURCE": "tapvmic", "XDG_DATA_HOME": fresh_data_dir(rig)}
        overrides = [arg for setting in settings for arg in ("--set", setting)]
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), *(["-" + "v" * verbose] if verbose else []), "talk", *overrides],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.heard: list[Heard] = []
        self._new: queue.Queue[Heard] = queue.Queue()
        self._err: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self._err.extend(self.proc.stderr or []), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout or []:
            if line.strip():
                heard = Heard(time.time(), json.loads(line))
                self.heard.append(heard)
                self._new.put(heard)

    def wait_listening(self) -> None:
        deadline = time.monotonic() + 300
        while not any("listening on" in line for line in self._err):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the agent never listened: {''.join(self._err)[-2000:]}")
            time.sleep(0.2)

    def wait_for(self, kind: str, since: int, timeout_s: float = WAIT_S) -> Heard:
        """The first scene of ``kind`` at index ``since`` or later."""
        deadline = time.monotonic() + timeout_s
        while True:
            for heard in self.heard[since:]:
                if heard.kind == kind:
                    return heard
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"no {kind} scene within {timeout_s:.0f} s: {''.join(self._err)[-2000:]}")
            time.sleep(0.05)

    def log(self) -> str:
        """What the agent wrote to stderr."""
        return "".join(self._err)

    def live_lines(self, around_unix_s: float, before_s: float = 0.3, after_s: float = 1.5) -> list[tuple[float, str]]:
        """The live loop's log lines (``-v``: each starts with its wall-clock time) from
        ``before_s`` before ``around_unix_s`` to ``after_s`` after: (seconds from it, text)."""
        day = datetime.datetime.fromtimestamp(around_unix_s)
        lines = []
        for line in self._err:
            m = LOG_LINE.match(line)
            if m is None or " live: " not in line:
                continue
            h, mi, sec, ms = (int(g) for g in m.groups())
            at = day.replace(hour=h, minute=mi, second=sec, microsecond=ms * 1000).timestamp() - around_unix_s
            if -before_s <= at <= after_s:
                lines.append((at, line[m.end() :].strip()))
        return lines

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:  # say where it hangs (in --log), then end it
                print("the agent did not end within 20 s of Ctrl-C; its stacks are in its log", file=sys.stderr)
                self.proc.send_signal(signal.SIGUSR1)  # threads (agent/cli/main.py)
                time.sleep(1.0)
                self.proc.send_signal(signal.SIGUSR2)  # asyncio tasks (agent/session.py; default after it: ends it)
                time.sleep(2.0)
                self.proc.kill()


class MicPlayer:
    """A user's voice into the microphone through one ``pacat`` started beforehand: silence
    until :meth:`say`, written ``LEAD_S`` ahead of the wall clock. (``paplay`` takes
    0.1–0.4 s to start while the agent keeps both cores busy: an interruption timed to land
    inside a sentence of the reply landed after it, in the pause before the next.)"""

    #: how far ahead of the wall clock samples are written (s).
    LEAD_S = 0.03

    def __init__(self, rig: AudioRig) -> None:
        self._proc = subprocess.Popen(
            [
                "pacat",
                "--playback",
                "--device=tapmic",
                "--raw",
                "--format=float32le",
                f"--rate={RATE_HZ}",
                "--channels=1",
                "--latency-msec=20",
            ],
            env=rig.env,
            stdin=subprocess.PIPE,
        )
        self._queue: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        assert self._proc.stdin is not None
        block = RATE_HZ // 100
        start, sent = time.monotonic(), 0
        while not self._stop.is_set():
            ahead_s = sent / RATE_HZ - (time.monotonic() - start)
            if ahead_s > self.LEAD_S:
                time.sleep(ahead_s - self.LEAD_S)
                continue
            with self._lock:
                chunk = self._queue.pop(0) if self._queue else np.zeros(block, np.float32)
                if not self._queue:
                    self._idle.set()
            try:
                self._proc.stdin.write(chunk.astype(np.float32).tobytes())
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                return
            sent += len(chunk)

    def say(self, samples: np.ndarray) -> float:
        """Play ``samples`` (16 kHz mono) next; returns the unix time they were queued."""
        block = RATE_HZ // 100
        with self._lock:
            self._queue.extend(samples[k : k + block] for k in range(0, len(samples), block))
            self._idle.clear()
        return time.time()

    def wait(self, timeout_s: float = 60.0) -> None:
        """Until what was said has been written."""
        self._idle.wait(timeout_s)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(Exception):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        self._proc.terminate()
        self._proc.wait(10)


def play(rig: AudioRig, path: Path) -> tuple[float, float]:
    """Play ``path`` into the microphone; unix times it started and ended."""
    start = time.time()
    subprocess.run(["paplay", "--device=tapmic", str(path)], env=rig.env, check=True, timeout=120)
    return start, time.time()


def wait_sounding(tap: TapRecorder, timeout_s: float = WAIT_S, for_s: float = 0.05) -> None:
    """Until the speaker's channel has sounded (≥ −45 dBFS) in every 50 ms of the last ``for_s``."""
    deadline = time.monotonic() + timeout_s
    n, window = int(for_s * RATE_HZ), RATE_HZ // 20
    while time.monotonic() < deadline:
        right = tap.samples()[-n:, 1]
        if right.size == n and all(
            np.sqrt(np.mean(right[k : k + window] ** 2)) >= 10 ** (-45 / 20) for k in range(0, n - window + 1, window)
        ):
            return
        time.sleep(0.02)
    raise SystemExit("the agent's reply never sounded on the speaker")


def over_reply(
    rig: AudioRig,
    agent: Agent,
    tap: TapRecorder,
    question: Path,
    over: Path,
    timeout_s: float = WAIT_S,
    player: MicPlayer | None = None,
) -> tuple[int, float]:
    """Ask ``question`` and, ``BARGE_AFTER_S`` into its reply and at a moment it sounds (not
    in a pause between its words), play ``over`` into the microphone (through ``player``,
    at once, if given; else with ``paplay``). Returns how many scenes had been heard before
    ``over`` began, and the unix time it began."""
    since = len(agent.heard)
    play(rig, question)
    agent.wait_for("turn", since, timeout_s)
    wait_sounding(tap, timeout_s)
    time.sleep(BARGE_AFTER_S)
    # Inside a sentence (sounding for SOUNDING_S): paplay takes ~0.1 s to start, and after
    # a word that ends a sentence the interruption would begin in the reply's pause.
    wait_sounding(tap, timeout_s, SOUNDING_S)
    before = len(agent.heard)
    if player is not None:
        start = player.say(live_latency._safe(sf.read(over, dtype="float32")[0]))
        player.wait()
        time.sleep(0.1)
        return before, start
    start, _ = play(rig, over)
    return before, start


def locate(channel: np.ndarray, speech: np.ndarray, around: int) -> tuple[int, float]:
    """Where ``speech`` begins on ``channel``, searched from ``around`` − 1 s to + 2 s by
    normalised cross-correlation of its first second (the channel also holds the echo),
    and how well it matches there (1.0: the same samples). A stretch far quieter than the
    speech (``MATCH_FLOOR``) holds none of it: the null sink's digital silence has no
    energy, and dividing the FFT's rounding noise by none made it the best "match" (which
    put the onset of 3 in 4 interruptions in the silence before a reply, until 2026-12-01)."""
    head = speech[:RATE_HZ] - speech[:RATE_HZ].mean()
    start = max(0, around - RATE_HZ)
    window = channel[start : start + 3 * RATE_HZ + len(head)].astype(np.float64)
    dots = correlate(window, head, mode="valid", method="fft")
    energy = np.sqrt(np.maximum(np.convolve(window**2, np.ones(len(head)), mode="valid"), 0.0))
    norm = float(np.linalg.norm(head))
    score = np.where(energy >= MATCH_FLOOR * norm, dots / (energy * norm + 1e-20), 0.0)
    k = int(np.argmax(score))
    return start + k, float(score[k])


def speech_onset(speech: np.ndarray) -> int:
    """Where the speech in a recording begins (samples): the first 10 ms at least 15 dB
    above the recording's own noise floor (its 10th percentile) and within 40 dB of its
    peak. (A fixed −40 dBFS found the background noise of ``stereo_diarization.wav``'s left
    channel at 0 ms, 0.4 s before its first word, and every round of that voice was timed
    from there, until 2026-12-01.)"""
    w = RATE_HZ // 100
    levels = np.array([10 * np.log10(np.mean(speech[k : k + w] ** 2) + 1e-12) for k in range(0, len(speech) - w, w)])
    threshold = max(np.percentile(levels, 10) + 15.0, levels.max() - 40.0)
    return int(np.flatnonzero(levels >= threshold)[0]) * w


def stopped_at(right: np.ndarray, onset: int) -> int | None:
    """Where the speaker's first stretch of ``STOPPED_S`` silence after ``onset`` begins (it
    may have begun up to 0.3 s before the located onset): None when it never falls silent."""
    lo = max(0, onset - int(0.3 * RATE_HZ))
    quiet = np.abs(right[lo:]) < SOUND_FLOOR
    run = int(STOPPED_S * RATE_HZ)
    windows = np.convolve(quiet.astype(np.int32), np.ones(run, np.int32), mode="valid")
    silent = np.flatnonzero(windows == run)
    return lo + int(silent[0]) if silent.size else None


def backchannel_file(folder: Path, text: str) -> Path:
    """Piper's joe saying ``text`` two semitones up (parselmouth), a 16 kHz WAV."""
    import parselmouth

    speech = turn_set.piper_speech(text)
    sound = parselmouth.Sound(speech.astype(np.float64), RATE_HZ)
    shifted = parselmouth.praat.call(sound, "Change gender", 75, 600, 1.05, 0, 1.0, 1.0)
    path = folder / (re.sub(r"\W", "", text).lower() + ".wav")
    sf.write(path, live_latency._safe(np.asarray(shifted.values[0], np.float32)), RATE_HZ, subtype="PCM_16")
    return path


def recording(folder: Path, name: str) -> tuple[Path, np.ndarray]:
    samples = live_latency._safe(turn_set.load(name))
    path = folder / (name.replace(".", "-").replace("/", "-") + ".wav")
    sf.write(path, samples, RATE_HZ, subtype="PCM_16")
    return path, samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--echo-ms", type=int, default=50, help="the loopback's delay (0: no echo)")
    ap.add_argument("--utterances", type=int, default=8, help="utterances in the echo part")
    ap.add_argument("--rounds", type=int, default=4, help="barge-ins (and up to 3 backchannels)")
    ap.add_argument("--skip-echo", action="store_true", help="leave out the echo part")
    ap.add_argument("--log", type=Path, help="write the agent's log (-v) here")
    ap.add_argument("--tap", type=Path, help="write the tap (left: heard, right: said) here, a stereo WAV")
    ap.add_argument(
        "--trace", action="store_true", help="the agent at -vv, and each barge-in's live log lines from its onset"
    )
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override for talk")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, audio_rig() as rig:
        folder = Path(tmp)
        said = live_latency.utterances(folder)[: args.utterances]
        questions = [recording(folder, q)[0] for q in QUESTIONS]
        interruptions = [(*recording(folder, name), text) for name, text in INTERRUPTIONS]
        backchannels = [backchannel_file(folder, text) for text in BACKCHANNELS]
        tapped_rig(rig)
        if args.echo_ms:
            rig.pactl("load-module", *SPEAKER_SOURCE.split())
            rig.pactl(
                "load-module", "module-loopback", "source=tapspkmon", "sink=tapmic", f"latency_msec={args.echo_ms}"
            )
        tap = TapRecorder(rig)
        player = MicPlayer(rig)
        agent = Agent(rig, verbose=2 if args.trace else 1, settings=tuple(args.set))
        try:
            tap.wait_running()
            agent.wait_listening()
            # 1. Echo: every utterance, its reply, and quiet after.
            user_speaking: list[tuple[float, float]] = []
            mark = len(agent.heard)
            for utterance in [] if args.skip_echo else said:
                since = len(agent.heard)
                user_speaking.append(play(rig, utterance.path))
                agent.wait_for("spoken", since)
                time.sleep(1.5)
            echo_part = agent.heard[mark:]
            # 2. Barge-in.
            barges = []
            for r in range(args.rounds):
                path, speech, text = interruptions[r % len(interruptions)]
                barge_since, start = over_reply(rig, agent, tap, questions[r % len(questions)], path, player=player)
                cut = agent.wait_for("spoken", barge_since)
                answered_turn = agent.wait_for("turn", barge_since)
                agent.wait_for("spoken", agent.heard.index(answered_turn))
                barges.append((start, speech, text, cut, answered_turn))
                time.sleep(1.0)
            # 3. Backchannels.
            nods = []
            for r in range(min(args.rounds, len(backchannels))):
                nod_since, _ = over_reply(
                    rig, agent, tap, questions[r % len(questions)], backchannels[r], player=player
                )
                spoken = agent.wait_for("spoken", nod_since)
                time.sleep(1.5)
                nods.append((spoken, [h for h in agent.heard[nod_since:] if h.kind == "turn"]))
        finally:
            agent.stop()
            player.close()
            tap.stop()
            if args.log is not None:
                args.log.write_text(agent.log())

    # --- echo --------------------------------------------------------------------------------
    turns = [h for h in echo_part if h.kind == "turn"]
    replies = [h for h in echo_part if h.kind == "reply"]
    spoken_texts: list[str] = []
    self_answers = 0
    for h in echo_part:
        if h.kind == "spoken":
            spoken_texts.append(h.scene.get("text") or "")
        if h.kind == "turn" and is_own_words(h.scene.get("text"), spoken_texts[-3:]):
            self_answers += 1
    interrupts = [h for h in echo_part if h.kind == "interrupt"]
    by_user = [i for i in interrupts if any(a - 0.2 <= i.at_s <= b + 1.5 for a, b in user_speaking)]
    print(
        f"echo loopback {args.echo_ms} ms at 0 dB: {len(said)} utterances -> {len(turns)} turns, "
        f"{len(replies)} replies ({len(replies) / len(said):.2f} per utterance); self-answers: {self_answers}; "
        f"replies cut with no user speaking: {len(interrupts) - len(by_user)} "
        f"(cut while the user still spoke: {len(by_user)})"
    )
    for h in turns:
        print(f"    heard: {h.scene.get('text')!r}")

    # --- barge-in ----------------------------------------------------------------------------
    x = tap.samples()
    left, right = x[:, 0], x[:, 1]
    if args.tap is not None:
        sf.write(args.tap, x, RATE_HZ, subtype="FLOAT")
    silences_ms, whole, holds_ms, drains_ms = [], 0, [], []
    for start, speech, text, cut, answered in barges:
        found, match = locate(left, speech, tap.index(start))
        at = found + speech_onset(speech)
        stop = stopped_at(right, at)
        silence_ms = (stop - at) / RATE_HZ * 1000 if stop is not None and match >= MATCH_MIN else float("nan")
        silences_ms.append(silence_ms)
        got, want = set(words(answered.scene.get("text"))), set(words(text))
        whole += len(got & want) >= 0.6 * len(want)
        # The agent's own account (its log's wall clock set on the tap's): when it held the speaker.
        lines = agent.live_lines(tap.unix_s(at))
        held = [t for t, line in lines if "speaker held" in line and t >= -0.1]
        hold_ms = held[0] * 1000 if held else float("nan")
        if held and silence_ms >= 0:
            holds_ms.append(hold_ms)
            drains_ms.append(silence_ms - hold_ms)
        print(
            f"    barge-in at {at / RATE_HZ:7.2f} s on the tap (match {match:.2f}): "
            f"speaker silent {silence_ms:6.0f} ms after the onset "
            f"(held at {hold_ms:.0f} ms by the "
            f"agent's log); reply cut at {(cut.scene.get('result') or {}).get('cut_at_s')} s; "
            f"heard {answered.scene.get('text')!r}"
        )
        if args.trace:
            for t, line in lines:
                print(f"        {t * 1000:+6.0f} ms  {line}")
    # A round whose interruption began in a pause between the reply's words (the speaker
    # already silent at the onset: ``stopped_at`` then lies before it) has no stop to time.
    sounding = [s for s in silences_ms if s >= 0]
    reacted = [s for s in sounding if s >= REACTION_FLOOR_MS]
    if sounding:
        print(
            f"barge-in: {len(barges)} rounds, {len(sounding)} with the reply sounding at the onset: onset -> "
            f"silence median {statistics.median(sounding):.0f} ms, max {max(sounding):.0f} ms "
            f"({len(barges) - len(sounding)} began in a pause); interruption heard whole {whole}/{len(barges)}"
        )
    if reacted:
        print(
            f"barge-in, leaving out {len(sounding) - len(reacted)} rounds silent sooner than the agent can react "
            f"(< {REACTION_FLOOR_MS} ms: the reply's own pause): median {statistics.median(reacted):.0f} ms "
            f"({len(reacted)} rounds)"
        )
    if holds_ms:
        print(
            f"barge-in, by the agent's log: onset -> speaker held median {statistics.median(holds_ms):.0f} ms; "
            f"held -> silent on the tap median {statistics.median(drains_ms):.0f} ms ({len(holds_ms)} rounds)"
        )

    # --- backchannels -------------------------------------------------------------------------
    went_on = sum((s.scene.get("result") or {}).get("cut_at_s") is None for s, _ in nods)
    taken = sum(len(t) for _, t in nods)
    print(f"backchannels: {len(nods)}; replies that went on to their end {went_on}/{len(nods)}; taken as turns {taken}")
    for spoken, extra in nods:
        cut_at_s = (spoken.scene.get("result") or {}).get("cut_at_s")
        print(f"    cut_at_s={cut_at_s}, turns: {[t.scene.get('text') for t in extra]}")


if __name__ == "__main__":
    main()
