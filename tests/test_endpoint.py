"""VAD accuracy on labelled speech, and when a live turn is judged to be over."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import DATA, MANIFEST, SPEECH, load_16k
from modules.voice.endpoint import (FRAME_S, FRAME_SAMPLES, EndpointOptions, TurnDetector, replay,
                                    text_cue)
from modules.voice.vad import SileroVAD, VadOptions


def test_silero_frame_decisions_match_the_labelled_speech_of_train_wav() -> None:
    samples = load_16k(DATA / "vad" / "train.wav")
    truth = [(float(w.split("-")[0]) + a, float(w.split("-")[0]) + b)
             for w, ivs in MANIFEST["vad"]["vad/train.wav"]["speech_seconds"].items() for a, b in ivs]
    t = np.arange(0.0, 4.0, 0.01)
    ref = np.zeros_like(t, bool)
    for a, b in truth:
        ref |= (t >= a) & (t < b)
    vad = SileroVAD()
    probs = np.array([vad.frame_probability(samples[i:i + FRAME_SAMPLES])
                      for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)])
    decided = probs[np.minimum((t / FRAME_S).astype(int), len(probs) - 1)] >= 0.5
    assert np.mean(decided == ref) >= 0.95
    bare = np.zeros_like(t, bool)
    for a, b in SileroVAD(VadOptions(pad_s=0.0, min_silence_s=0.1, min_speech_s=0.1)).segments(samples):
        bare |= (t >= a) & (t < b)
    assert np.mean(bare == ref) >= 0.95


@pytest.mark.parametrize(("text", "cue"), [
    ("The child almost hurt the small dog.", 1.0), ("Is it raining?", 1.0),
    ("The child almost hurt the", -1.0), ("and then I went to", -1.0), ("He began a confused...", -1.0),
    ("most hurt the small d-", -1.0), ("Sunday is the best part", -0.5), ("", 0.0),
])
def test_the_words_so_far_say_finished_or_not(text: str, cue: float) -> None:
    assert text_cue(text) == cue


def test_the_fixed_timer_closes_after_exactly_its_silence() -> None:
    detector = TurnDetector(EndpointOptions(prosodic=False, end_silence_s=0.8))
    frame = np.zeros(FRAME_SAMPLES, np.float32)
    closed_at = None
    for k in range(100):
        speech = 5 <= k < 40
        if detector.feed(frame, 0.9 if speech else 0.1) is not None:
            closed_at = k
            break
    silence_frames = closed_at - 40 + 1
    assert abs(silence_frames * FRAME_S - 0.8) <= FRAME_S


@pytest.mark.slow
def test_mid_sentence_pauses_are_cut_far_less_often_and_real_ends_close_sooner(faster_engine) -> None:
    """Each spk1 sentence with 0.9 s of silence inserted at every interior word boundary
    (Whisper's word times), streamed through silero: the 0.8 s silence timer cuts nearly
    every one in two; the judged detector (prosody + the words so far) cuts at most 70 % as
    many and closes sooner after the real end. (Whisper sometimes invents an ending for a
    broken-off phrase, "hurt the" → "hurt this morning.", so single cases can go wrong.)"""
    rng = np.random.default_rng(0)
    vad, bare = SileroVAD(), SileroVAD(VadOptions(pad_s=0.0))
    results = {False: [], True: []}
    for i in range(1, 6):
        speech = load_16k(SPEECH / f"spk1_snt{i}.wav")
        words = faster_engine.transcribe(speech).words
        end_s = bare.segments(speech)[-1][1]
        for a, b in zip(words[1:-1], words[2:]):
            cut = int((a.t_end + b.t_start) / 2 * 16000)
            quiet = [rng.normal(0, 10 ** (-70 / 20), int(s * 16000)).astype(np.float32) for s in (0.9, 2.0)]
            stream = np.concatenate([speech[:cut], quiet[0], speech[cut:], quiet[1]])
            vad.reset()
            probs = [vad.frame_probability(stream[k:k + FRAME_SAMPLES])
                     for k in range(0, len(stream) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]
            for judged in (False, True):
                closes = replay(stream, probs, EndpointOptions(prosodic=judged),
                                (lambda x: faster_engine.transcribe(x).text) if judged else None,
                                text_takes_real_time=False)
                # After a premature cut the rest may be too short to be a turn of its own:
                # then there is no close after the end (the cut is counted already).
                late = [t - (end_s + 0.9) for t in closes if t >= end_s + 0.9]
                results[judged].append((any(t < end_s + 0.9 for t in closes), late[0] if late else None))
    cut_rate = {k: np.mean([c for c, _ in v]) for k, v in results.items()}
    delay = {k: np.mean([d for _, d in v if d is not None]) for k, v in results.items()}
    assert len(results[True]) >= 25
    assert cut_rate[False] >= 0.9
    assert cut_rate[True] <= 0.7 * cut_rate[False], cut_rate
    assert delay[True] < delay[False], delay
