"""Word error rate with the field's standard normalisation.

Text is normalised by openai-whisper's ``EnglishTextNormalizer`` (the one the Whisper
paper scores with: lower case, punctuation off, numbers and spellings standardised,
contractions expanded), then compared word by word with a Levenshtein alignment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _normalizer():
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalised_words(text: str) -> list[str]:
    """The words of ``text`` after the standard normalisation (tokens without a letter or
    digit, such as a stray ``.`` from an ellipsis, are left out)."""
    return [t for t in _normalizer()(text).split() if any(c.isalnum() for c in t)]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, number of reference words), both normalised."""
    ref, hyp = normalised_words(reference), normalised_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate (0 = perfect; can exceed 1 when words are invented).

    Raises:
        ValueError: the reference has no words.
    """
    edits, n_words = word_errors(reference, hypothesis)
    if n_words == 0:
        raise ValueError("the reference has no words")
    return edits / n_words


def transcribed_voices(speech_dir: Path, manifest: dict) -> list[tuple[str, str, np.ndarray]]:
    """Every voice of every recording in ``manifest["speech"]`` with a full transcript
    (``text``, or ``text_left``/``text_right`` for a two-voice file), split into voices as
    ``run.py analyze`` splits them: ``(name, reference, 16 kHz mono float32 samples)``;
    a two-voice file's names end in ``/left`` and ``/right``.

    Raises:
        AudioError: a listed file is missing or unreadable.
    """
    from modules.voice.io.audio import load_audio, resample, voices
    from modules.voice.rates import RATE_HZ

    out = []
    for key, entry in sorted(manifest["speech"].items()):
        if "text" not in entry and "text_left" not in entry:
            continue  # no full transcript (multilingual.mp3 has only its opening)
        name = key.split("/", 1)[1]
        audio = load_audio(Path(speech_dir) / name)
        for label, mono in voices(audio):
            reference = entry.get(f"text_{label}") if label else entry.get("text")
            if reference:
                out.append((name + (f"/{label}" if label else ""), reference, resample(mono, audio.rate_hz, RATE_HZ)))
    return out


def heard_text(samples_16k: np.ndarray, vad, asr) -> str:
    """The words the hearing pipeline hears in one voice, as ``run.py analyze`` runs it
    (silero VAD → Whisper over the speech → words into utterances): the utterances' texts
    joined in time order."""
    from modules.voice.listen.hearing import hear

    heard = hear(samples_16k, vad.segments(samples_16k), asr, one_turn=False)
    return " ".join(h.text for h in heard if h.text)
