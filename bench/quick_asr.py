"""The quick decoder (``modules/voice/asr/quick.py``) against Whisper's full 30 s decode:
time and words differing, on prefixes of the test recordings (what the live loop
transcribes at a pause), for several window rules.

Run:  .venv/bin/python bench/quick_asr.py

Each recording of ``tests/data/speech`` (each voice of the stereo file alone) and each
Piper sentence of ``bench/turn_set.py`` cut at 40, 60, 80 and 100 % of its length;
reference: faster-whisper tiny.en's own transcription of the same prefix (30 s window,
greedy, no timestamps). A window rule that gives broken text (a repeated run of words, or
too many tokens) decodes again in a longer window ("then N s"), and if still broken at
30 s, as the decoder does.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.paths import cache_dir
from bench import turn_set
from modules.voice.asr import quick
from modules.voice.asr.engines import AsrOptions, make_engine
from modules.voice.asr.wer import word_errors

FILES = ("spk1_snt1.wav", "spk1_snt2.wav", "spk1_snt3.wav", "spk1_snt4.wav", "spk1_snt5.wav")
FILES += ("LJ050-0131.wav", "jfk.flac", "stereo_diarization.wav/left", "stereo_diarization.wav/right")
#: and the Piper voice joe saying the sentences of ``bench/turn_set.py`` (0.3 s of silence before each, as
#: the live loop's pre-roll).
PIPER = tuple(text for text, _ in turn_set.SENTENCES)


def main() -> None:
    engine = make_engine("faster-whisper", AsrOptions(model="tiny.en", threads=2), cache_dir())
    model = engine.model
    decoder = quick.QuickDecoder(model)
    cases = []
    sounds = [turn_set.load(name) for name in FILES]
    sounds += [np.concatenate([np.zeros(4800, np.float32), turn_set.piper_speech(text)]) for text in PIPER]
    for y in sounds:
        for frac in (0.4, 0.6, 0.8, 1.0):
            s = y[: int(len(y) * frac)]
            segments, _ = model.transcribe(
                s, beam_size=1, condition_on_previous_text=False, temperature=0.0, without_timestamps=True
            )
            t0 = time.perf_counter()
            decoder._decode(s, quick.FULL_FRAMES)
            full_s = time.perf_counter() - t0
            cases.append((s, " ".join(seg.text for seg in segments), full_s))
    print(
        f"{len(cases)} prefixes of {len(FILES)} recordings and {len(PIPER)} Piper sentences; "
        "reference: the full 30 s decode"
    )
    print(f"{'window':34} {'words differing':>16} {'redone at 30 s':>15} {'median':>8} {'p90':>8}")
    full_times = [c[2] for c in cases]
    median_ms, p90_ms = np.median(full_times) * 1000, np.percentile(full_times, 90) * 1000
    print(f"{'30 s (full)':34} {'-':>16} {'-':>15} {median_ms:6.0f}ms {p90_ms:6.0f}ms")
    # (shortest window s, the window a broken text is decoded in first: s, 0 = the full 30 s)
    rules = [(0, 0), (8, 0), (10, 0), (8, 12), (quick.MIN_WINDOW_S, quick.RETRY_FRAMES // quick.FRAMES_PER_S)]
    for min_s, retry_s in rules:
        errors = words = redone = retried = 0
        times = []
        for s, reference, _ in cases:
            audio_s = len(s) / quick.RATE_HZ
            t0 = time.perf_counter()
            frames = min(quick.FULL_FRAMES, quick.FRAMES_PER_S * max(min_s, math.ceil(audio_s + quick.PAD_S)))
            text, n_tokens = decoder._decode(s, frames)
            broken = frames < quick.FULL_FRAMES and quick.looks_broken(text, audio_s, n_tokens)
            if broken and retry_s * quick.FRAMES_PER_S > frames:
                retried += 1
                text, n_tokens = decoder._decode(s, retry_s * quick.FRAMES_PER_S)
                broken = quick.looks_broken(text, audio_s, n_tokens)
            if broken:
                text, _ = decoder._decode(s, quick.FULL_FRAMES)
                redone += 1
            times.append(time.perf_counter() - t0)
            e, n = word_errors(reference, text)
            errors, words = errors + e, words + n
        label = f"speech + 1 s, >= {min_s} s" if min_s else "speech + 1 s"
        if retry_s:
            label += f", then {retry_s} s ({retried})"
        print(
            f"{label:34} {f'{errors} of {words}':>16} {redone:>15} "
            f"{np.median(times) * 1000:6.0f}ms {np.percentile(times, 90) * 1000:6.0f}ms"
        )


if __name__ == "__main__":
    main()
