"""VAD frame accuracy, and end of turn: fixed silence timer vs prosody vs prosody + words.

Run:  .venv/bin/python bench/vad_eot.py [--pause 0.9]

VAD: silero-vad against the labelled speech of tests/data/vad/train.wav (0–4 s, 10 ms
frames): per-frame decisions, unpadded segments, and the padded segments the pipeline
gives Whisper.

End of turn, on real speech streamed frame by frame through silero and the detector:
(a) each speech recording (each channel of the two-speaker file), then 2 s of faint noise;
(b) hesitations: each single-sentence recording with a pause of --pause seconds inserted
at every interior word boundary (Whisper's word times), one stream per boundary. Every
turn closed before the true end of speech is a premature cut; the delay is from the true
end (silero's unpadded offset) to the close. In the "words" mode the transcript of the
speech so far is made at each pause onset and reaches the detector after the time the
transcription really took (as in the live loop, which reuses it for the turn).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.paths import cache_dir
from modules.voice.asr.engines import AsrOptions, make_engine
from modules.voice.io.audio import load_audio, resample, voices
from modules.voice.listen.endpoint import FRAME_S, FRAME_SAMPLES, EndpointOptions, replay
from modules.voice.listen.vad import SileroVAD, VadOptions

# The project's labelled recordings (data files, read as data: no code from tests/).
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SPEECH = DATA / "speech"
MANIFEST = json.loads((DATA / "MANIFEST.json").read_text())

SENTENCES = [
    "spk1_snt1.wav",
    "spk1_snt2.wav",
    "spk1_snt3.wav",
    "spk1_snt4.wav",
    "spk1_snt5.wav",
    "stereo_diarization.wav",
]
RNG = np.random.default_rng(0)


def vad_accuracy() -> None:
    y = _load16(DATA / "vad" / "train.wav")[0][1]
    truth = [
        (float(w.split("-")[0]) + a, float(w.split("-")[0]) + b)
        for w, ivs in MANIFEST["vad"]["vad/train.wav"]["speech_seconds"].items()
        for a, b in ivs
    ]
    t = np.arange(0.0, 4.0, 0.01)

    def mask(segments):
        m = np.zeros_like(t, bool)
        for a, b in segments:
            m |= (t >= a) & (t < b)
        return m

    ref = mask(truth)
    print("VAD frame accuracy on vad/train.wav (0–4 s, 10 ms frames)")
    for threshold in (0.3, 0.5, 0.7):
        vad = SileroVAD(VadOptions(threshold=threshold))
        probs = np.array(
            [
                vad.frame_probability(y[i : i + FRAME_SAMPLES])
                for i in range(0, len(y) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
            ]
        )
        frames = probs[np.minimum((t / FRAME_S).astype(int), len(probs) - 1)] >= threshold
        bare = SileroVAD(VadOptions(threshold=threshold, pad_s=0.0, min_silence_s=0.1, min_speech_s=0.1))
        print(
            f"  threshold {threshold}: frames {np.mean(frames == ref):.3f}, "
            f"segments unpadded {np.mean(mask(bare.segments(y)) == ref):.3f}, "
            f"padded for ASR {np.mean(mask(vad.segments(y)) == ref):.3f}"
        )


def _load16(path: Path) -> list[tuple[str | None, np.ndarray]]:
    audio = load_audio(path)
    return [(label, resample(x, audio.rate_hz, 16000)) for label, x in voices(audio)]


@dataclass
class Stream:
    name: str
    samples: np.ndarray
    speech_end_s: float
    probs: list[float]


def _noise(seconds: float) -> np.ndarray:
    return RNG.normal(0.0, 10 ** (-70 / 20), int(seconds * 16000)).astype(np.float32)


def _stream(name: str, samples: np.ndarray, speech_end_s: float, vad: SileroVAD) -> Stream:
    samples = np.concatenate([samples, _noise(2.0)])
    vad.reset()
    probs = [
        vad.frame_probability(samples[i : i + FRAME_SAMPLES])
        for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
    ]
    return Stream(name, samples, speech_end_s, probs)


def streams(pause_s: float, asr) -> tuple[list[Stream], list[Stream]]:
    vad = SileroVAD()
    bare = SileroVAD(VadOptions(pad_s=0.0))
    plain, hesitant = [], []
    for path in sorted(SPEECH.glob("*")):
        for label, y in _load16(path):
            name = path.name + (f"/{label}" if label else "")
            plain.append(_stream(name, y, bare.segments(y)[-1][1], vad))
            if path.name not in SENTENCES:
                continue
            words = asr.transcribe(y).words
            end = bare.segments(y)[-1][1]
            for i in range(1, len(words) - 1):
                cut = int((words[i].t_end + words[i + 1].t_start) / 2 * 16000)
                y2 = np.concatenate([y[:cut], _noise(pause_s), y[cut:]])
                hesitant.append(_stream(f"{name}@{words[i].text}", y2, end + pause_s, vad))
    return plain, hesitant


def run(stream: Stream, mode: str, asr) -> tuple[int, float]:
    """(premature cuts, delay of the close after the true end in s)."""
    transcribe = (lambda audio: asr.transcribe(audio).text) if mode == "words" else None
    closes = replay(stream.samples, stream.probs, EndpointOptions(prosodic=mode != "fixed"), transcribe)
    cuts = sum(t < stream.speech_end_s for t in closes)
    after = [t - stream.speech_end_s for t in closes if t >= stream.speech_end_s]
    return cuts, after[0] if after else float("nan")


def main(pause_s: float) -> None:
    vad_accuracy()
    asr = make_engine("faster-whisper", AsrOptions(), cache_dir())
    plain, hesitant = streams(pause_s, asr)
    print(f"\nEnd of turn: {len(plain)} recordings; {len(hesitant)} hesitations of {pause_s} s inserted mid-sentence")
    print(
        f"{'mode':8} {'recordings: delay':>18} {'cuts':>5} | {'hesitations: cut':>17} {'delay':>6}"
        f"   (fixed: a silence timer of {EndpointOptions().end_silence_s} s, the baseline)"
    )
    baseline = None
    for mode in ("fixed", "prosody", "words"):
        a = [run(s, mode, asr) for s in plain]
        b = [run(s, mode, asr) for s in hesitant]
        delay_a = statistics.mean(d for _, d in a if not np.isnan(d))
        cut_b = sum(c > 0 for c, _ in b) / len(b)
        delay_b = statistics.mean(d for _, d in b if not np.isnan(d))
        baseline = baseline or (delay_a, cut_b, delay_b)
        print(
            f"{mode:8} {delay_a:16.3f} s {sum(c for c, _ in a):5d} | {cut_b:16.0%} {delay_b:5.2f} s"
            f"   (÷ fixed: delay {delay_a / baseline[0]:.2f}, {delay_b / baseline[2]:.2f}; "
            f"cut rate {cut_b / baseline[1]:.2f})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause", type=float, default=0.9)
    main(parser.parse_args().pause)
