"""Acoustic echo cancellers on real (virtual) audio devices: how much of the agent's own
voice each removes from the microphone, whether silero-vad still hears it, and what a
user who talks over the agent loses.

Run:  .venv/bin/python bench/echo_cancel.py [--quick] [--agent speech.wav]
      (about 2 min here; ``--quick``: D = 50 ms at 0 dB and one double talk, about 35 s)

Candidates: WebRTC AEC3 through ``pywebrtc_audio.EchoCanceller``, WebRTC APM through
``livekit.rtc.AudioProcessingModule`` (``echo_cancellation=True``), and speexdsp through
``pyaec.Aec`` (filter ``SPEEX_FILTER_MS``, its preprocessor on). The delay hint is 0 ms:
each finds the echo path itself, as the live loop would have to.

Recording: a private PulseAudio server (modules/voice/io/virtual_devices.py) with the
stereo tap of bench/turn_latency.py (left: the microphone ``tapmic``/``tapvmic``, right: the
speaker ``tapspk``) and a source ``tapspkmon`` of the right channel. The echo path is
``module-loopback source=tapspkmon sink=tapmic latency_msec=D``, its sink input set to
0 dB or -10 dB; D is 20, 50 and 100 ms. The agent's speech (Piper ``joe``, two sentences,
or ``--agent``) is played with ``paplay`` into ``tapspk``, and one ``parec`` of the tap's
monitor holds the far end (right) and the microphone (left) on one sample clock. For double
talk a real recording of another voice (tests/data/speech) is played into ``tapmic`` two
seconds into the agent's speech. The path is a pure delay and gain resampled by the
loopback's rate control: no room reverberation, so the figures are upper bounds for a room.
Agent and user are both scaled to ``SPEECH_RMS_DBFS`` over their 10 ms frames within 40 dB of
their loudest.

Each canceller then runs offline over the recorded (mic, far end) pair, causally, in 10 ms
chunks of 160 samples, a fresh instance per condition. The misaligned conditions (on the
0 dB recordings) feed the far end 40 ms early (the echo comes 40 ms later than on the tap,
as when the live loop stamps the reference in the playback callback), or 20 or 60 ms late
(the echo comes that much sooner; once the shift reaches D the echo no longer follows its
reference, and no causal canceller can remove it).

Reported per canceller and condition:
- ERLE (dB): 10·log10(mic power / residual power) over the 10 ms frames where the far end,
  delayed by the measured echo delay, is above -50 dBFS: in the first second of echo, and
  after it. The rig's microphone has no noise floor, so a canceller whose suppressor mutes
  the echo reaches the residual floor (16-bit quantisation noise): ~70 dB at 0 dB echo;
- silero-vad (threshold 0.5, 32 ms frames, one stream per signal) on the raw mic and on the
  residual: share of the frames holding echo (mic above -60 dBFS) where it fires;
- double talk, over the user's speech frames that overlap the echo (user's clean frame above
  -50 dBFS): silero on the clean user, on the raw mic and on the residual; the user's
  attenuation 10·log10(clean user power / residual power) per frame, median and share >= 10 dB;
  and ERLE over the frames with echo and no user;
- cost: µs per 10 ms chunk through the Python API (conversions included), mean and max over
  the conditions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import correlate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import turn_set
from bench.turn_latency import RATE_HZ, TapRecorder, tapped_rig
from modules.voice.io.virtual_devices import AudioRig, audio_rig
from modules.voice.listen.vad import SileroVAD

CHUNK_SAMPLES = RATE_HZ // 100  # 10 ms: the only size every canceller takes
VAD_FRAME_SAMPLES = 512  # silero-vad's 32 ms frame at 16 kHz
VAD_THRESHOLD = 0.5
SPEECH_RMS_DBFS = -23.0
SPEECH_RANGE_DB = 40.0  # a 10 ms frame within this of a file's loudest counts when scaling it
ACTIVE_DBFS = -50.0  # a 10 ms far-end / user frame above this is speech
ECHO_PRESENT_DBFS = -60.0  # a 32 ms mic frame above this holds echo
FLOOR_POWER = (1 / 32768) ** 2 / 12  # 16-bit quantisation noise
SPEEX_FILTER_MS = 200
DELAYS_MS = (20, 50, 100)
ECHO_LEVELS_DB = (0.0, -10.0)
#: reference shifts in ms: negative = the reference arrives early (before the tap), positive = late.
MISALIGN_MS = (-40, 20, 60)
AGENT_TEXT = (
    "Sure. The train to Leeds leaves at ten past four from platform six, and it takes about two hours. "
    "Would you like me to book you a seat by the window, or should I check the later trains first?"
)
USER_AFTER_S = 2.0  # the user starts talking this long after the agent's file starts
LEAD_S = 0.5  # silence before each played file (paplay can clip its start)
SETTLE_S = 0.5  # after loading the loopback, before recording


# ---- the cancellers: each a factory of ``process(near_chunk, far_chunk) -> residual_chunk`` (float32)


def _int16(chunk: np.ndarray) -> np.ndarray:
    return np.clip(np.round(chunk * 32767.0), -32768, 32767).astype(np.int16)


def webrtc_aec3() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from pywebrtc_audio import EchoCanceller

    aec = EchoCanceller(sample_rate=RATE_HZ)

    def process(near: np.ndarray, far: np.ndarray) -> np.ndarray:
        return aec.process(near, far)  # float32 in, float32 out; each call is padded to 10 ms

    return process


def livekit_apm() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from livekit import rtc

    apm = rtc.AudioProcessingModule(echo_cancellation=True)
    # Required with echo cancellation (its docstring); without it the APM lost an echo that
    # came 0-5 ms after its reference (4-6 dB ERLE, against 45-52 dB with it). Once is enough.
    apm.set_stream_delay_ms(0)

    def process(near: np.ndarray, far: np.ndarray) -> np.ndarray:
        # Anything but int16 frames of exactly 10 ms aborts the whole process (a Rust panic).
        if near.shape != (CHUNK_SAMPLES,) or far.shape != (CHUNK_SAMPLES,):
            raise ValueError(f"livekit APM takes {CHUNK_SAMPLES}-sample chunks only")
        far_frame = rtc.AudioFrame(bytearray(_int16(far).tobytes()), RATE_HZ, 1, CHUNK_SAMPLES)
        apm.process_reverse_stream(far_frame)
        near_frame = rtc.AudioFrame(bytearray(_int16(near).tobytes()), RATE_HZ, 1, CHUNK_SAMPLES)
        apm.process_stream(near_frame)  # rewrites the frame in place
        return np.frombuffer(near_frame.data, np.int16).astype(np.float32) / 32768.0

    return process


def speex() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    import pyaec

    aec = pyaec.Aec(CHUNK_SAMPLES, RATE_HZ * SPEEX_FILTER_MS // 1000, RATE_HZ, True)

    def process(near: np.ndarray, far: np.ndarray) -> np.ndarray:
        # The C side reads frame_size samples whatever the buffer's length: never pass a short one.
        if near.shape != (CHUNK_SAMPLES,) or far.shape != (CHUNK_SAMPLES,):
            raise ValueError(f"pyaec was made for {CHUNK_SAMPLES}-sample chunks")
        return np.asarray(aec.cancel_echo(_int16(near), _int16(far)), np.float32) / 32768.0

    return process


CANCELLERS: dict[str, Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]]] = {
    "pywebrtc-aec3": webrtc_aec3,
    "livekit-apm": livekit_apm,
    f"speex-{SPEEX_FILTER_MS}ms": speex,
}


def cancel(make: Callable[[], Callable], near: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, float]:
    """A fresh canceller streamed over the pair in 10 ms chunks; (residual, mean µs per chunk)."""
    process = make()
    out = np.zeros_like(near)
    elapsed_s = 0.0
    for start in range(0, len(near), CHUNK_SAMPLES):
        t0 = time.perf_counter()
        out[start : start + CHUNK_SAMPLES] = process(
            near[start : start + CHUNK_SAMPLES], far[start : start + CHUNK_SAMPLES]
        )
        elapsed_s += time.perf_counter() - t0
    return out, elapsed_s / (len(near) // CHUNK_SAMPLES) * 1e6


# ---- signals and measures


def _frames(x: np.ndarray, size: int) -> np.ndarray:
    return x[: len(x) // size * size].reshape(-1, size)


def _frame_dbfs(x: np.ndarray, size: int) -> np.ndarray:
    return 10 * np.log10(np.mean(_frames(x, size).astype(np.float64) ** 2, axis=1) + 1e-20)


def scaled(x: np.ndarray) -> np.ndarray:
    """``x`` at ``SPEECH_RMS_DBFS`` over its speech frames, with ``LEAD_S`` of silence before."""
    frame_db = _frame_dbfs(x, CHUNK_SAMPLES)
    active = _frames(x, CHUNK_SAMPLES)[frame_db > frame_db.max() - SPEECH_RANGE_DB]
    gain = 10 ** (SPEECH_RMS_DBFS / 20) / np.sqrt(np.mean(active**2))
    return np.concatenate([np.zeros(int(LEAD_S * RATE_HZ), np.float32), (x * gain).astype(np.float32)])


def delay_and_gain(near: np.ndarray, far: np.ndarray, max_delay_s: float = 0.5) -> tuple[int, float]:
    """The echo path on the tap: (delay in samples from the cross-correlation, power ratio in dB)."""
    c = correlate(near, far, mode="full", method="fft")[len(far) - 1 : len(far) - 1 + int(max_delay_s * RATE_HZ)]
    power_ratio = np.sum(near.astype(np.float64) ** 2) / max(np.sum(far.astype(np.float64) ** 2), 1e-20)
    return int(np.argmax(np.abs(c))), float(10 * np.log10(power_ratio + 1e-20))


def shifted(x: np.ndarray, shift: int) -> np.ndarray:
    """``x`` delayed by ``shift`` samples (advanced when negative), same length, zero-filled."""
    if shift >= 0:
        return np.concatenate([np.zeros(shift, x.dtype), x[: len(x) - shift]])
    return np.concatenate([x[-shift:], np.zeros(-shift, x.dtype)])


def erle_db(near: np.ndarray, residual: np.ndarray, mask: np.ndarray) -> float:
    """ERLE over the 10 ms frames in ``mask``."""
    if not mask.any():
        return float("nan")
    n = _frames(near, CHUNK_SAMPLES)[mask].astype(np.float64)
    r = _frames(residual, CHUNK_SAMPLES)[mask].astype(np.float64)
    return float(10 * np.log10(np.mean(n**2) / max(np.mean(r**2), FLOOR_POWER)))


def vad_fires(vad: SileroVAD, x: np.ndarray) -> np.ndarray:
    """Per 32 ms frame of ``x`` (one live stream from its start): does silero-vad fire."""
    vad.reset()
    fires = np.array([vad.frame_probability(f) > VAD_THRESHOLD for f in _frames(x, VAD_FRAME_SAMPLES)])
    vad.reset()
    return fires


def vad_mask(chunk_mask: np.ndarray) -> np.ndarray:
    """A mask over 10 ms chunks carried to 32 ms VAD frames (a frame counts if any sample does)."""
    per_sample = np.repeat(chunk_mask, CHUNK_SAMPLES)
    return _frames(per_sample[: len(per_sample) // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES], VAD_FRAME_SAMPLES).any(
        axis=1
    )


def share(flags: np.ndarray, mask: np.ndarray) -> float:
    m = mask[: len(flags)]
    return float(100 * flags[: len(m)][m].mean()) if m.any() else float("nan")


# ---- recording through the rig


@dataclass
class Recording:
    """One run through the tap: mic (left) and far end (right), and where the user's voice lies."""

    name: str
    delay_ms: int
    level_db: float
    near: np.ndarray
    far: np.ndarray
    echo_delay: int  # measured, samples
    echo_gain_db: float  # measured
    user: np.ndarray | None = None  # the clean user on the tap's timeline (double talk)


def _sink_input_of(rig: AudioRig, module: str) -> str:
    listing = rig.pactl("list", "sink-inputs")
    for block in listing.split("Sink Input #")[1:]:
        if f"Owner Module: {module}\n" in block:
            return block.split()[0]
    raise SystemExit(f"no sink input of module {module}: {listing}")


def record(
    rig: AudioRig, agent_wav: Path, delay_ms: int, level_db: float, user_wav: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Play ``agent_wav`` on the speaker through an echo path of ``delay_ms`` at ``level_db``
    (and ``user_wav`` into the mic ``USER_AFTER_S`` later); returns (mic, far end) from the tap."""
    module = rig.pactl(
        "load-module", "module-loopback", "source=tapspkmon", "sink=tapmic", f"latency_msec={delay_ms}"
    ).strip()
    try:
        rig.pactl("--", "set-sink-input-volume", _sink_input_of(rig, module), f"{level_db:g}dB")
        time.sleep(SETTLE_S)
        tap = TapRecorder(rig)
        try:
            tap.wait_running()
            agent = subprocess.Popen(["paplay", "--device=tapspk", str(agent_wav)], env=rig.env)
            try:
                if user_wav is not None:
                    time.sleep(USER_AFTER_S)
                    subprocess.run(["paplay", "--device=tapmic", str(user_wav)], env=rig.env, check=True, timeout=60)
                agent.wait(timeout=60)
            finally:
                if agent.poll() is None:
                    agent.kill()
            time.sleep(0.3 + delay_ms / 1000)
        finally:
            tap.stop()
    finally:
        rig.pactl("unload-module", module)
    x = tap.samples()
    n = len(x) // CHUNK_SAMPLES * CHUNK_SAMPLES
    return np.ascontiguousarray(x[:n, 0]), np.ascontiguousarray(x[:n, 1])


def place(near: np.ndarray, user: np.ndarray) -> np.ndarray:
    """The clean user signal where it lies on the mic channel (found by cross-correlation)."""
    c = correlate(near, user, mode="valid", method="fft")
    at = int(np.argmax(c))
    out = np.zeros_like(near)
    out[at : at + len(user)] = user[: len(near) - at]
    return out


def record_all(
    agent: np.ndarray, users: dict[str, np.ndarray], conditions: list[tuple[int, float, str | None]]
) -> list[Recording]:
    recordings = []
    with tempfile.TemporaryDirectory(prefix="echo-cancel-") as folder, audio_rig() as rig:
        tapped_rig(rig)
        rig.pactl(
            "load-module",
            *(
                "module-remap-source source_name=tapspkmon master=tap.monitor channels=1 "
                "master_channel_map=front-right channel_map=mono remix=no"
            ).split(),
        )
        agent_wav = Path(folder) / "agent.wav"
        sf.write(agent_wav, agent, RATE_HZ, subtype="PCM_16")
        user_wavs = {}
        for name, user in users.items():
            user_wavs[name] = Path(folder) / f"user-{name}.wav"
            sf.write(user_wavs[name], user, RATE_HZ, subtype="PCM_16")
        for delay_ms, level_db, user_name in conditions:
            print(f"recording: echo {delay_ms} ms, {level_db:+g} dB, user {user_name}", file=sys.stderr, flush=True)
            near, far = record(rig, agent_wav, delay_ms, level_db, user_wavs.get(user_name or ""))
            clean_user = None
            if user_name:
                played, _ = sf.read(user_wavs[user_name], dtype="float32")  # the 16-bit samples the tap holds
                clean_user = place(near, played)
            echo_delay, echo_gain_db = delay_and_gain(near - (clean_user if clean_user is not None else 0), far)
            name = f"D={delay_ms}ms {level_db:+g}dB" + (f" +user {user_name}" if user_name else "")
            recordings.append(Recording(name, delay_ms, level_db, near, far, echo_delay, echo_gain_db, clean_user))
    return recordings


# ---- evaluation


def evaluate_echo(rec: Recording, vad: SileroVAD, misalign_ms: int, costs_us: dict[str, list[float]]) -> list[str]:
    """One row for an echo-only recording, the reference shifted by ``misalign_ms`` (+ = late)."""
    far_ref = shifted(rec.far, misalign_ms * RATE_HZ // 1000)
    echo_on = _frame_dbfs(shifted(rec.far, rec.echo_delay), CHUNK_SAMPLES) > ACTIVE_DBFS
    first = int(np.argmax(echo_on))
    first_s = np.zeros_like(echo_on)
    first_s[first : first + RATE_HZ // CHUNK_SAMPLES] = True
    echo_present = _frame_dbfs(rec.near, VAD_FRAME_SAMPLES) > ECHO_PRESENT_DBFS
    condition = rec.name
    if misalign_ms:
        condition += f" ref {'late' if misalign_ms > 0 else 'early'} {abs(misalign_ms)}ms"
    row = [condition, f"{share(vad_fires(vad, rec.near), echo_present):.0f}"]
    for name, make in CANCELLERS.items():
        residual, cost_us = cancel(make, rec.near, far_ref)
        costs_us[name].append(cost_us)
        first_db = erle_db(rec.near, residual, echo_on & first_s)
        after_db = erle_db(rec.near, residual, echo_on & ~first_s)
        row.append(f"{first_db:.1f} / {after_db:.1f} / {share(vad_fires(vad, residual), echo_present):.0f}")
    return row


def evaluate_double_talk(rec: Recording, vad: SileroVAD, costs_us: dict[str, list[float]]) -> list[list[str]]:
    """One row per canceller for a double-talk recording."""
    assert rec.user is not None
    echo_on = _frame_dbfs(shifted(rec.far, rec.echo_delay), CHUNK_SAMPLES) > ACTIVE_DBFS
    user_on = _frame_dbfs(rec.user, CHUNK_SAMPLES) > ACTIVE_DBFS
    overlap = vad_mask(echo_on & user_on)
    user_frames = _frame_dbfs(rec.user, VAD_FRAME_SAMPLES) > ACTIVE_DBFS
    mask = overlap[: len(user_frames)] & user_frames[: len(overlap)]
    clean_vad = share(vad_fires(vad, rec.user), mask)
    raw_vad = share(vad_fires(vad, rec.near), mask)
    user_db = _frame_dbfs(rec.user, VAD_FRAME_SAMPLES)
    rows = []
    for name, make in CANCELLERS.items():
        residual, cost_us = cancel(make, rec.near, rec.far)
        costs_us[name].append(cost_us)
        attenuation_db = (user_db - _frame_dbfs(residual, VAD_FRAME_SAMPLES))[: len(mask)][mask]
        rows.append(
            [
                rec.name,
                name,
                f"{int(mask.sum())}",
                f"{clean_vad:.0f}",
                f"{raw_vad:.0f}",
                f"{share(vad_fires(vad, residual), mask):.0f}",
                f"{np.median(attenuation_db):.1f}",
                f"{100 * np.mean(attenuation_db >= 10):.0f}",
                f"{erle_db(rec.near, residual, echo_on & ~user_on):.1f}",
            ]
        )
    return rows


def table(header: list[str], rows: list[list[str]], n_left: int) -> str:
    """Columns padded to fit; the first ``n_left`` left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) if i < n_left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in [header, *rows]
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main(quick: bool, agent_path: Path | None) -> None:
    started_s = time.monotonic()
    if agent_path is not None:
        from modules.voice.io.audio import load_audio, resample

        audio = load_audio(agent_path)
        agent = scaled(resample(audio.mono().astype(np.float32), audio.rate_hz, RATE_HZ))
    else:
        agent = scaled(turn_set.piper_speech(AGENT_TEXT))
    users = {"spk1_snt1": scaled(turn_set.load("spk1_snt1.wav"))}
    delays_ms, levels_db = ((50,), (0.0,)) if quick else (DELAYS_MS, ECHO_LEVELS_DB)
    conditions: list[tuple[int, float, str | None]] = [(d, level, None) for d in delays_ms for level in levels_db]
    conditions.append((50, 0.0, "spk1_snt1"))
    if not quick:
        users["LJ050-0131"] = scaled(turn_set.load("LJ050-0131.wav"))
        conditions.append((100, -10.0, "LJ050-0131"))
    recordings = record_all(agent, users, conditions)

    vad = SileroVAD()
    echo_rows, talk_rows = [], []
    costs_us: dict[str, list[float]] = {name: [] for name in CANCELLERS}
    for rec in recordings:
        print(f"evaluating {rec.name}", file=sys.stderr, flush=True)
        if rec.user is not None:
            talk_rows += evaluate_double_talk(rec, vad, costs_us)
            continue
        echo_rows.append(evaluate_echo(rec, vad, 0, costs_us))
        if rec.level_db == 0.0:
            echo_rows += [evaluate_echo(rec, vad, misalign_ms, costs_us) for misalign_ms in MISALIGN_MS]

    print(
        f"\nagent: {'Piper joe' if agent_path is None else agent_path.name}, {len(agent) / RATE_HZ:.1f} s; "
        f"speech at {SPEECH_RMS_DBFS:g} dBFS RMS; 10 ms chunks; fresh canceller per condition"
    )
    for rec in recordings:
        delay_ms = rec.echo_delay / RATE_HZ * 1000
        print(f"  {rec.name}: echo measured on the tap {delay_ms:.1f} ms, {rec.echo_gain_db:+.1f} dB")
    print("\nEcho only; per canceller: ERLE dB in the first s of echo / after it / silero % on the residual")
    print(table(["condition", "VAD raw %", *CANCELLERS], echo_rows, 1))
    print("\nDouble talk: the user's speech frames overlapping the echo; attenuation = clean user / residual")
    header = ["condition", "canceller", "frames", "VAD clean %", "VAD raw %", "VAD resid %"]
    header += ["atten med dB", "atten>=10dB %", "ERLE no-user dB"]
    print(table(header, talk_rows, 2))
    print("\nCost per 10 ms chunk (mean over conditions; max): ", end="")
    print(", ".join(f"{name} {np.mean(c):.0f} µs ({max(c):.0f})" for name, c in costs_us.items()))
    print(f"\ntotal {time.monotonic() - started_s:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one delay (50 ms), one level (0 dB), one double talk")
    parser.add_argument("--agent", type=Path, help="a recording to play as the agent (default: Piper joe)")
    args = parser.parse_args()
    main(args.quick, args.agent)
