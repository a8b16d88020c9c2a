"""Word error rate over the voice's test recordings: the recordings with their references,
and what the hearing pipeline hears in them (the rate itself: :mod:`agent.wer`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.wer import normalised_words, wer, word_errors

__all__ = ["heard_text", "normalised_words", "transcribed_voices", "wer", "word_errors"]


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
