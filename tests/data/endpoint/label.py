"""How ``labels.json`` was made (run once by hand: ``.venv/bin/python tests/data/endpoint/label.py``).

End of speech: Praat's intensity contour (parselmouth, pitch floor 100 Hz, 5 ms step); the
end is the last frame within 30 dB of the recording's loudest. For jfk.flac, whose pauses
hold crowd noise 30 dB under the voice, the end is the last frame more than 6 dB above the
median level of its labelled pauses. Word cuts: the intensity minimum within 60 ms of the
boundary that faster-whisper (the project's default engine and model) places between the
two words, so the cut falls in the gap, not inside a word. Each label was then checked
by reading the intensity contour around it and against Whisper's word times (the
``whisper_last_word_end_s`` printed beside it); the numbers
in labels.json are those printed, rounded to 10 ms.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import parselmouth

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent.parent.parent)]

from conftest import SPEECH, load_16k


def intensity(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    it = parselmouth.Sound(y.astype(np.float64), 16000).to_intensity(minimum_pitch=100, time_step=0.005)
    return it.xs(), it.values[0]


def end_of_speech_s(y: np.ndarray, below_db: float = 30.0) -> float:
    t, v = intensity(y)
    return float(t[np.flatnonzero(v > v.max() - below_db)[-1]])


def gap_s(y: np.ndarray, boundary_s: float) -> float:
    t, v = intensity(y)
    near = np.flatnonzero(np.abs(t - boundary_s) <= 0.06)
    return float(t[near[np.argmin(v[near])]])


def main() -> None:
    from modules.voice.asr.engines import AsrOptions, make_engine

    engine = make_engine("faster-whisper", AsrOptions(), Path.home() / ".cache")
    # The continuation word each cut ends on (the sentence's last word before it).
    cuts = {1: "the", 2: "the", 3: "is", 4: "the", 5: "of"}
    labels = {}
    for i, last in cuts.items():
        y = load_16k(SPEECH / f"spk1_snt{i}.wav")
        words = engine.transcribe(y).words
        k = max(j for j, w in enumerate(words[:-1]) if w.text.lower().strip(",.") == last)
        cut = gap_s(y, (words[k].t_end + words[k + 1].t_start) / 2)
        labels[f"speech/spk1_snt{i}.wav"] = {
            "speech_end_s": round(end_of_speech_s(y), 2),
            "whisper_last_word_end_s": round(words[-1].t_end, 2),
            "cut_after_continuation_s": round(cut, 2),
            "words_before_cut": " ".join(w.text for w in words[:k + 1]),
        }
    y = load_16k(SPEECH / "jfk.flac")
    t, v = intensity(y)
    pauses = [(2.14, 3.28), (7.56, 8.18)]  # read off the contour: level within 5 dB of the floor
    floor = float(np.median(np.concatenate([v[(t > a) & (t < b)] for a, b in pauses])))
    body = (t > 9.5) & (t < 10.7)
    end = float(t[body][np.flatnonzero(v[body] > floor + 6.0)[-1]])
    labels["speech/jfk.flac"] = {"pauses_s": pauses, "speech_end_s": round(end, 2),
                                 "pause_floor_db": round(floor, 1),
                                 "note": "crowd noise from 10.7 s on is not the speaker"}
    print(json.dumps(labels, indent=1))


if __name__ == "__main__":
    main()
