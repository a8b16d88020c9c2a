"""Full duplex, part by part: the echo canceller on real speech, the speaker that holds,
resumes and cuts, and the two questions asked of speech heard over the agent's voice.

The canceller is the real WebRTC AEC3 (``pywebrtc-audio``); the echo is real speech
delayed and scaled as a loudspeaker in a room would send it back (a pure delay and gain:
the rig's measurements in ``bench/echo_cancel.py`` and ``bench/duplex.py`` add
PulseAudio's own path).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SPEECH, load_16k

from modules.voice.io.echo import EchoCanceller, FarEnd
from modules.voice.io.start_tone import start_tone
from modules.voice.listen.echo_guard import is_backchannel, is_own_words
from modules.voice.listen.floor import Floor
from modules.voice.rates import FRAME_SAMPLES, RATE_HZ


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


@pytest.fixture(scope="module")
def agent_voice() -> np.ndarray:
    """Eight seconds of a real voice standing for the agent's (two recordings, one after the other)."""
    return np.concatenate([load_16k(SPEECH / "spk1_snt1.wav"), load_16k(SPEECH / "LJ050-0131.wav")])[: 8 * RATE_HZ]


def _run(far_signal: np.ndarray, mic: np.ndarray) -> tuple[np.ndarray, EchoCanceller]:
    """As the duplex stream does: each 32 ms block the speaker played goes to the far end,
    then the microphone's block of the same callback through the canceller."""
    far = FarEnd()
    canceller = EchoCanceller(far)
    out = []
    for k in range(0, len(mic) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        far.append(far_signal[k : k + FRAME_SAMPLES])
        out.append(canceller.process(mic[k : k + FRAME_SAMPLES]))
    return np.concatenate(out), canceller


@pytest.mark.parametrize("delay_ms", [30, 250, 600])
def test_the_canceller_finds_the_echo_delay_and_removes_the_echo(agent_voice, vad, delay_ms) -> None:
    delay = delay_ms * RATE_HZ // 1000
    echo = np.zeros_like(agent_voice)
    echo[delay:] = 0.7 * agent_voice[:-delay]
    rng = np.random.default_rng(0)
    mic = (echo + rng.normal(0, 10 ** (-70 / 20), len(echo))).astype(np.float32)  # a quiet room
    out, canceller = _run(agent_voice, mic)
    assert canceller.delay.locked
    assert abs(canceller.delay.delay_s - delay_ms / 1000) <= 0.002, canceller.delay.delay_s
    # After the first 3 s (finding the delay, converging), the echo is gone.
    tail = slice(3 * RATE_HZ, len(out))
    erle_db = _db(mic[tail]) - _db(out[tail])
    assert erle_db >= 30, f"echo return loss enhancement {erle_db:.1f} dB"
    fired = [vad.frame_probability(f) >= 0.5 for f in out[tail][: len(out[tail]) // 512 * 512].reshape(-1, 512)]
    vad.reset()
    assert np.mean(fired) <= 0.05, f"silero hears the residual echo in {np.mean(fired):.0%} of frames"


@pytest.mark.parametrize("tail_s", [0.05, 0.1, 0.2])
def test_the_end_of_a_reply_against_a_user_speaking_after_it_is_no_echo_delay(agent_voice, tail_s) -> None:
    """The agent's voice stopped ``tail_s`` into the reference window, the user (another
    voice, no echo of the agent in the microphone) speaks through the whole microphone
    window: the cross-correlation peaks 30–130 times over its mean at 1.1–1.2 s (most lags
    see no sound at all) — no echo, and no delay is measured or locked (twice in a row, as
    an estimate moves the delay). One run of bench/live_latency.py locked such a "delay"
    (1167 ms). Real echoes, with the user talking over them, still lock: the tests above
    and below, and the canceller's on the rig (bench/duplex.py)."""
    from modules.voice.io.echo import MAX_DELAY_S, PEAK_RATIO, WINDOW_S, DelayEstimator, correlate_peak

    user = load_16k(SPEECH / "spk1_snt2.wav")
    near = user[RATE_HZ // 2 : RATE_HZ // 2 + int(WINDOW_S * RATE_HZ)]
    far = np.zeros(int((WINDOW_S + MAX_DELAY_S) * RATE_HZ), np.float32)
    tail = int(tail_s * RATE_HZ)
    far[:tail] = agent_voice[2 * RATE_HZ - tail : 2 * RATE_HZ]
    found_s, ratio = correlate_peak(near, far)
    assert ratio >= PEAK_RATIO and found_s > 1.0, (found_s, ratio)  # what the check is for
    estimator = DelayEstimator()
    assert estimator.measure(near, far) is None and estimator.measure(near, far) is None
    assert not estimator.locked and estimator.delay_s == 0.0


@pytest.mark.parametrize("delay_ms", [30, 250, 600])
def test_the_start_tone_alone_gives_the_canceller_the_echo_delay(delay_ms) -> None:
    """The tone a session opens with is all the speaker has played: within 2.5 s of its start
    the delay is measured, so the first reply can be interrupted; a held note would not do
    (its correlation peaks at every period)."""
    tone = start_tone(RATE_HZ)
    far = np.zeros(int(2.5 * RATE_HZ), np.float32)
    far[: len(tone)] = tone
    delay = delay_ms * RATE_HZ // 1000
    mic = np.zeros_like(far)
    mic[delay : delay + len(tone)] = 0.7 * tone
    mic += np.random.default_rng(1).normal(0, 10 ** (-70 / 20), len(mic)).astype(np.float32)
    _, canceller = _run(far, mic)
    assert canceller.delay.locked, "no delay measured from the tone"
    assert abs(canceller.delay.delay_s - delay_ms / 1000) <= 0.002, canceller.delay.delay_s
    assert 20 * np.log10(np.max(np.abs(tone))) == pytest.approx(-20.0, abs=0.1)


@pytest.mark.parametrize("room_noise_db", [None, -70.0, -55.0])
def test_a_start_tone_that_never_comes_back_says_the_speaker_does_not_reach_the_microphone(room_noise_db) -> None:
    """A headset, or the virtual devices without their loopback: the tone plays and the
    microphone hears none of it. Within 2.5 s the canceller knows the agent's voice does not
    come back, so speech over it is the user's (no guard takes it for an echo); a tone that
    does come back never says so."""
    from modules.voice.listen.live import BargeIn
    from modules.voice.options import VoiceOptions

    tone = start_tone(RATE_HZ)
    far = np.zeros(int(2.5 * RATE_HZ), np.float32)
    far[: len(tone)] = tone
    mic = np.zeros_like(far)
    if room_noise_db is not None:
        mic += np.random.default_rng(2).normal(0, 10 ** (room_noise_db / 20), len(mic)).astype(np.float32)
    _, canceller = _run(far, mic)
    assert canceller.delay.absent and not canceller.delay.locked
    barge = BargeIn(Floor(), VoiceOptions.parse({}), canceller)
    barge.overlapped = True  # a short turn that began over the agent's voice
    assert not barge.only_echo(0.8) and not barge._own_echo()

    echoed = mic.copy()
    echoed[4000 : 4000 + len(tone)] += 0.5 * tone
    _, canceller = _run(far, echoed)
    assert canceller.delay.locked and not canceller.delay.absent
    barge = BargeIn(Floor(), VoiceOptions.parse({}), canceller)
    barge.overlapped = True
    assert barge.only_echo(0.8), "where the voice does come back, a short overlapped turn may be its echo"


def test_a_user_talking_over_the_agent_survives_the_canceller(agent_voice, vad) -> None:
    delay = 200 * RATE_HZ // 1000
    echo = np.zeros_like(agent_voice)
    echo[delay:] = 0.7 * agent_voice[:-delay]
    user = np.zeros_like(agent_voice)
    words, _ = sf.read(SPEECH / "spk1_snt3.wav", dtype="float32")  # another voice, 16 kHz
    at = 5 * RATE_HZ
    user[at : at + len(words)] = words[: len(user) - at]
    out, canceller = _run(agent_voice, echo + user)
    span = slice(at, at + len(words))
    frames = lambda x: x[span][: len(x[span]) // 512 * 512].reshape(-1, 512)  # noqa: E731
    speech_frames = [_db(f) > -50 for f in frames(user)]
    on_clean = [vad.frame_probability(f) >= 0.5 for f in frames(user)]
    vad.reset()
    on_residual = [vad.frame_probability(f) >= 0.5 for f in frames(out)]
    vad.reset()
    heard = np.mean([r for r, s in zip(on_residual, speech_frames) if s])
    clean = np.mean([c for c, s in zip(on_clean, speech_frames) if s])
    # AEC3 eats part of a voice that talks over the echo (MODELS.md: silero fires on 42–60 %
    # of its frames): enough to notice it, which is what barge-in needs.
    assert heard >= 0.35, f"silero hears the user in {heard:.0%} of frames over the echo ({clean:.0%} clean)"
    # Two frames in a row (what holds the speaker) soon after the user starts.
    first_speech = speech_frames.index(True)
    pairs = [i for i in range(first_speech, len(on_residual) - 1) if on_residual[i] and on_residual[i + 1]]
    assert pairs and (pairs[0] - first_speech) * 0.032 <= 0.25, pairs[:3]
    # The residual guard does not take the user for the agent's echo.
    assert not canceller.residual_echo()


def test_the_residual_guard_knows_echo_the_canceller_let_through(agent_voice) -> None:
    """The echo path grows from 150 to 450 ms (a sound server enlarging its buffer): until
    the delay is measured again, what the canceller lets through is the agent's voice, and
    the guard says so; then the canceller has the new delay."""
    echo = np.zeros_like(agent_voice)
    change = 4 * RATE_HZ
    d1, d2 = int(0.15 * RATE_HZ), int(0.45 * RATE_HZ)
    echo[d1:change] = 0.7 * agent_voice[: change - d1]
    echo[change:] = 0.7 * agent_voice[change - d2 : len(agent_voice) - d2]
    far = FarEnd()
    canceller = EchoCanceller(far)
    guarded = []
    for k in range(0, len(echo) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        far.append(agent_voice[k : k + FRAME_SAMPLES])
        canceller.process(echo[k : k + FRAME_SAMPLES])
        if change + 0.3 * RATE_HZ <= k < change + 1.5 * RATE_HZ:
            guarded.append(canceller.residual_echo())
    assert any(guarded), "the guard never saw the echo the canceller let through"
    assert abs(canceller.delay.delay_s - 0.45) <= 0.002, canceller.delay.delay_s


def test_the_guard_asked_at_every_frame_measures_the_delay_on_windows_of_their_own(agent_voice, monkeypatch) -> None:
    """Asked at every frame while speech goes on over the agent, the guard measures the
    echo's delay again at most once per window (1 s): two measurements 32 ms apart share
    97 % of their samples, agree on anything — double talk included — and the estimator
    takes two agreeing measurements for a new delay (the duplex bench saw 2–27 ms locked so)."""
    echo = np.zeros_like(agent_voice)
    change = 4 * RATE_HZ
    d1, d2 = int(0.15 * RATE_HZ), int(0.45 * RATE_HZ)
    echo[d1:change] = 0.7 * agent_voice[: change - d1]
    echo[change:] = 0.7 * agent_voice[change - d2 : len(agent_voice) - d2]
    far = FarEnd()
    canceller = EchoCanceller(far)
    guard: list[int] = []  # where in the stream the guard measured
    asking = False
    real_measure = canceller.delay.measure

    def counted(near, far_signal):
        if asking:
            guard.append(canceller._done)
        return real_measure(near, far_signal)

    monkeypatch.setattr(canceller.delay, "measure", counted)
    for k in range(0, len(echo) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        far.append(agent_voice[k : k + FRAME_SAMPLES])
        canceller.process(echo[k : k + FRAME_SAMPLES])
        if change + 0.3 * RATE_HZ <= k < change + 2.5 * RATE_HZ:
            asking = True
            canceller.residual_echo()
            asking = False
    assert len(guard) >= 2, guard
    assert all(b - a >= RATE_HZ for a, b in zip(guard, guard[1:])), np.diff(guard)
    assert abs(canceller.delay.delay_s - 0.45) <= 0.002, canceller.delay.delay_s


class ScriptedGuard(EchoCanceller):
    """The real canceller, whose residual-echo guard answers from a script (True: "what is
    heard may be the agent's own echo"), one answer per question: to time how soon a
    barge-in holds once the guard clears, frame by frame."""

    def __init__(self, answers: list[bool]) -> None:
        super().__init__(FarEnd())
        self.delay.locked = True
        self.answers = answers
        self.asked = 0

    def residual_echo(self, window_s: float = 1.0) -> bool:
        self.asked += 1
        return self.answers.pop(0) if self.answers else False


def _audible_floor():
    """A floor whose speaker has a reply queued (the agent is audible; the speaker is not
    opened: a hold is its state). Returns (floor, playback)."""
    from modules.voice.io.playback import Playback

    playback = Playback(None, RATE_HZ)
    playback.track(RATE_HZ).play(np.ones(RATE_HZ, np.float32) * 0.1)
    floor = Floor()
    floor.playback = playback
    return floor, playback


@pytest.mark.parametrize("vetoes", [0, 1, 2, 5])
def test_speech_over_the_agent_is_held_at_the_first_frame_the_echo_guard_clears(vetoes) -> None:
    """The user starts speaking over a reply while the canceller's output still correlates
    with the agent's voice (the guard vetoes the hold ``vetoes`` times): the speaker is held
    at the first frame of speech after the last veto — each veto costs one 32 ms frame (it
    cost four before, half the barge-in time of the runs in docs/benchmarks.md)."""
    from modules.voice.listen.live import BargeIn
    from modules.voice.options import VoiceOptions

    floor, playback = _audible_floor()
    guard = ScriptedGuard([True] * vetoes)
    barge = BargeIn(floor, VoiceOptions.parse({}), guard)
    for _ in range(10):  # the reply sounds, nobody speaks
        barge.frame(0.05, in_turn=False, turn_started=False)
    assert not barge.holding and guard.asked == 0
    held_at = None
    for k in range(1, 12):  # speech from here; a turn starts after three frames (the detector's start_frames)
        barge.frame(0.9, in_turn=k >= 3, turn_started=k == 3)
        if barge.holding:
            held_at = k
            break
    assert held_at == vetoes + 1 and playback._held, (held_at, guard.asked)


@pytest.mark.parametrize(
    ("speech_prob", "hold_threshold", "held"), [(0.25, 0.2, True), (0.15, 0.2, False), (0.25, 0.5, False)]
)
def test_the_hold_over_the_agent_starts_at_hold_threshold_below_the_vads(speech_prob, hold_threshold, held) -> None:
    """One frame at a speech probability of ``hold_threshold`` over a reply holds the speaker
    (AEC3 damps a voice's first syllables over the echo: 0.2 by default, under the VAD's 0.5)."""
    from modules.voice.listen.live import BargeIn
    from modules.voice.options import VoiceOptions

    floor, playback = _audible_floor()
    barge = BargeIn(floor, VoiceOptions.parse({"hold_threshold": hold_threshold}), ScriptedGuard([]))
    barge.frame(speech_prob, in_turn=False, turn_started=False)
    assert barge.holding is held and playback._held is held


def test_a_hold_below_the_vads_threshold_is_kept_while_the_speech_goes_on_and_released_after_it() -> None:
    """A hold at a speech probability between ``hold_threshold`` and the VAD's threshold, over
    a reply that sounded for a while: kept while the frames stay at or above
    ``hold_threshold`` (no turn yet), released ``RELEASE_FRAMES`` frames after they fall
    below it. (The quiet was counted against the VAD's threshold: the reply's own frames
    had it past ``RELEASE_FRAMES`` already, and such a hold was released on its own frame.)"""
    from modules.voice.listen.live import RELEASE_FRAMES, BargeIn
    from modules.voice.options import VoiceOptions

    floor, playback = _audible_floor()
    barge = BargeIn(floor, VoiceOptions.parse({"hold_threshold": 0.2}), ScriptedGuard([]))
    for _ in range(20):  # the reply sounds, nobody speaks
        barge.frame(0.05, in_turn=False, turn_started=False)
    for _ in range(4):  # a soft onset: over 0.2, under the VAD's 0.5, no turn yet
        barge.frame(0.3, in_turn=False, turn_started=False)
        assert barge.holding and playback._held and not barge.too_short(in_turn=False), barge.quiet_frames
    for k in range(1, RELEASE_FRAMES + 1):  # it stops
        barge.frame(0.05, in_turn=False, turn_started=False)
        assert barge.too_short(in_turn=False) is (k >= RELEASE_FRAMES), k
    assert not barge.too_short(in_turn=True)  # a turn under way is never "too short"


@pytest.mark.parametrize("guard_vetoes", [False, True])
def test_a_short_interruption_heard_in_the_agents_silence_is_not_taken_for_echo_when_it_closes(
    guard_vetoes, monkeypatch
) -> None:
    """0.8 s of speech over a reply (less than ``OWN_TURN_S``): held at its onset, most of it
    is heard in the agent's silence, so the turn it becomes is the user's — also when asked
    on the frame that closes it (the count was reset there, and a one-word interruption was
    dropped as the agent's echo). Where the guard vetoed every frame, the agent was never
    silent: the same turn is taken for its echo."""
    from modules.voice.listen import live
    from modules.voice.options import VoiceOptions

    clock = [1000.0]
    monkeypatch.setattr(live.time, "monotonic", lambda: clock[0])
    floor, _ = _audible_floor()
    barge = live.BargeIn(floor, VoiceOptions.parse({}), ScriptedGuard([guard_vetoes] * 100))
    frames = [(0.05, False, False)] * 5  # the reply sounds
    frames += [(0.9, k >= 3, k == 3) for k in range(1, 26)]  # 0.8 s of speech; a turn from its third frame
    frames += [(0.05, True, False)] * 10 + [(0.05, False, False)]  # the pause, and the frame that closes the turn
    for prob, in_turn, started in frames:
        barge.frame(prob, in_turn, started)
        clock[0] += 0.032
    assert barge.overlapped
    assert barge.only_echo(25 * 0.032) is guard_vetoes, (barge.in_silence_frames, barge.holding)


def test_far_end_reads_by_sample_count_and_zeros_elsewhere() -> None:
    far = FarEnd(capacity_s=0.1)  # 1600 samples kept
    ramp = np.arange(2000, dtype=np.float32)
    far.append(ramp[:800])
    far.append(ramp[800:])
    got = far.read(300, 1800)  # 300..399 are too old, 2000.. not yet played
    assert np.all(got[:100] == 0) and np.array_equal(got[100:1700], ramp[400:2000]) and np.all(got[1700:] == 0)
    assert np.all(far.read(-50, 10) == 0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mm-hmm.", True),
        ("Yeah, okay.", True),
        ("", True),  # a laugh, a breath: no words
        ("Uh-huh", True),
        ("Wait, stop.", False),
        ("Yeah, but what about tomorrow?", False),
        ("yeah yeah yeah yeah", False),
        # hums as Whisper spelled Piper's "Mm-hmm." over a reply (bench/duplex.py)
        ("and MmM.", True),
        ("and M-M-M.", True),
        ("Hmmm, mhm.", True),
        ("and", False),  # a sentence's first word, not a backchannel
        ("and then", False),
        ("me", False),
        ("Mm, what?", False),
    ],
)
def test_backchannels(text, expected) -> None:
    assert is_backchannel(text) is expected


def test_own_words_are_the_agents_recent_words_in_order() -> None:
    said = ["I heard you say: the child almost hurt the small dog. Tell me more about hurt."]
    assert is_own_words("Tell me more about", said)
    assert is_own_words("the small dog", said)
    assert not is_own_words("What time is it in London?", said)
    assert not is_own_words("dog small the", said)  # the same words, not in order
    assert not is_own_words("", said)
    # An echo Whisper misheard, in another form of the same words (a duplex benchmark's
    # first reply, before AEC3 had converged): 2 of 3 words are the reply's as lemmas.
    assert is_own_words("That sound therapy.", ["That sounds heavy. What is the hardest part of it?"])
    assert not is_own_words("The sound was heavy on the roof.", ["That sounds heavy. What is the hardest part of it?"])


def test_the_floor_drops_replies_to_turns_the_user_spoke_over() -> None:
    floor = Floor()
    floor.await_reply("turn-1")
    stop = threading.Event()
    floor.speaking("reply-0", stop)
    assert floor.cut() == ["reply-0"] and stop.is_set()
    assert floor.is_stale(["turn-1"])  # its reply, when it comes, is not spoken
    floor.answered(["turn-1"])
    assert not floor.is_stale(["turn-1"]) and not floor.awaiting
    floor.says("The river runs slowly.")
    assert floor.recent_words() == ["The river runs slowly."]


@pytest.mark.parametrize("frames_before", [0, 3])
def test_the_frame_loop_ends_when_cancelled_as_a_frame_arrives(frames_before) -> None:
    """A session told to stop (Ctrl-C, ``talk --turns``) cancels the frame loop; a frame
    arrives every 32 ms, so the cancellation often comes in the same pass of the event loop
    as a frame. The loop must end all the same (with Python 3.11's ``asyncio.wait_for`` it
    took the frame and went on forever: ``talk`` never exited)."""
    import asyncio

    from modules.voice.io.devices import Frames

    async def run() -> bool:
        mic = Frames()
        taken = []

        async def consume() -> None:
            async for frame in mic.frames():
                taken.append(frame)

        task = asyncio.create_task(consume())
        for _ in range(frames_before):
            mic._cut(np.zeros(FRAME_SAMPLES, np.float32))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)  # the loop waits for its next frame
        mic._cut(np.zeros(FRAME_SAMPLES, np.float32))  # it comes...
        task.cancel()  # ...as the session stops
        done, _ = await asyncio.wait([task], timeout=1.0)
        task.cancel()
        assert len(taken) == frames_before
        return bool(done) and task.cancelled()

    assert asyncio.run(run()), "the frame loop went on after it was cancelled"


@pytest.mark.audio_rig
def test_the_rigs_sound_server_keeps_the_callers_real_time_limit() -> None:
    """PulseAudio sets its own 200 ms limit on real-time CPU time by default, and its device
    threads run real-time as root: on two busy cores the kernel killed the rig's server in
    the middle of two long duplex benchmarks. The rig leaves the limit as the caller has it."""
    import resource

    from modules.voice.io.virtual_devices import audio_rig

    with audio_rig() as rig:
        assert rig.pid is not None
        limits = Path(f"/proc/{rig.pid}/limits").read_text().splitlines()
        (line,) = [row for row in limits if row.startswith("Max realtime timeout")]
    soft = line.split()[3]
    ours = resource.getrlimit(resource.RLIMIT_RTTIME)[0]
    assert soft == ("unlimited" if ours == resource.RLIM_INFINITY else str(ours)), line


@pytest.mark.audio_rig
def test_a_missing_device_is_a_clear_error_from_the_audio_process() -> None:
    """The full-duplex stream opens in its own process; a device that is not there comes
    back as one DeviceError naming it, and nothing is left running."""
    import asyncio
    import os

    from modules.voice.io.devices import DeviceError
    from modules.voice.io.duplex import AudioLoop
    from modules.voice.io.virtual_devices import audio_rig

    async def open_missing() -> None:
        async with AudioLoop(input_device="no-such-microphone"):
            pass

    with audio_rig() as rig:
        saved = dict(os.environ)
        os.environ.update(rig.env)
        try:
            with pytest.raises(DeviceError, match="no-such-microphone"):
                asyncio.run(open_missing())
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.mark.audio_rig
def test_the_echo_delay_after_the_audio_process_stalls_comes_back_where_it_began() -> None:
    """A callback that comes late can leave the speaker behind the microphone (a duplex
    stream through PulseAudio's ALSA plug-in did, for good: 108 → 507 ms after these two
    stalls), and with it every reply's start and every barge-in. Here the audio process is
    really stopped (SIGSTOP, as a busy machine stops it) twice for 0.25 s, and the echo's
    delay is measured before and after on real speech through the rig's loopback: the
    paired streams keep it (60 → 66 ms measured), and where it grows past ``DRIFT_S`` the
    stream restarts at the next quiet moment and puts it back."""
    import asyncio
    import os
    import signal
    import time

    from modules.voice.io.duplex import DRIFT_S, IDLE_S, AudioLoop
    from modules.voice.io.virtual_devices import audio_rig

    speech = load_16k(SPEECH / "spk1_snt1.wav")[: 3 * RATE_HZ]

    def play(loop: AudioLoop) -> None:
        with loop.playback.track(RATE_HZ) as track:
            track.play(speech)

    async def measure(loop: AudioLoop) -> float:
        """The echo's delay, measured on speech (played again while a block the stream
        lost keeps it from locking: that is not what is tested here)."""
        assert loop.canceller is not None
        for _ in range(3):
            await asyncio.to_thread(play, loop)
            await asyncio.sleep(0.6)  # the last estimate, over the reply's end
            if loop.canceller.delay.locked:
                return loop.canceller.delay.delay_s
        raise AssertionError("no echo delay measured over 9 s of speech")

    async def run() -> tuple[float, float, float, int]:
        async with AudioLoop() as loop:
            assert loop._process is not None and loop.canceller is not None
            first = await measure(loop)
            for _ in range(2):
                os.kill(loop._process.pid, signal.SIGSTOP)
                time.sleep(0.25)
                os.kill(loop._process.pid, signal.SIGCONT)
                await asyncio.sleep(0.3)
            grown = await measure(loop)
            await asyncio.sleep(IDLE_S + 0.7)  # quiet: the restart comes here
            restarts = loop.restarts
            after = await measure(loop)
            # A restart asked for outright: both streams stop and start again, and neither
            # stop is taken for a vanished device.
            loop.playback.send(("restart",))
            await asyncio.sleep(0.5)
            assert loop.playback.error is None, loop.playback.error
            restarted = await measure(loop)
            assert restarted <= first + 0.03, f"{first * 1000:.0f} → {restarted * 1000:.0f} ms after a restart"
            assert loop.playback.error is None, loop.playback.error
            return first, grown, after, restarts

    with audio_rig() as rig:
        rig.pactl("load-module", "module-loopback", "source=vspeaker.monitor", "sink=micfeed", "latency_msec=20")
        saved = dict(os.environ)
        os.environ.update(rig.env)
        try:
            first, grown, after, restarts = asyncio.run(run())
        finally:
            os.environ.clear()
            os.environ.update(saved)
    said = f"echo delay {first * 1000:.0f} → {grown * 1000:.0f} → {after * 1000:.0f} ms, {restarts} restart(s)"
    assert restarts == (1 if grown > first + DRIFT_S else 0), said
    # (back where it began, or lower: the first measurement may include the stream's start-up)
    assert after <= first + 0.03, said
