"""A heard scene carries only what was spoken: real speech that ends as the file ends,
trails into recorded noise, or is short, through the whole hearing pipeline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import DATA, SPEECH, load_16k

from modules.voice.rates import RATE_HZ

pytestmark = pytest.mark.slow

ENGINE_FIXTURES = ("openai_engine", "faster_engine")


def _cut(samples: np.ndarray, start_s: float, end_s: float | None = None) -> np.ndarray:
    return np.ascontiguousarray(samples[int(start_s * RATE_HZ) : None if end_s is None else int(end_s * RATE_HZ)])


def _with_noise(speech: np.ndarray, noise: np.ndarray, seconds: float, snr_db: float) -> np.ndarray:
    """``speech`` followed by ``seconds`` of recorded ``noise`` at ``snr_db`` below the speech's RMS."""
    piece = noise[: int(seconds * RATE_HZ)]
    gain = np.sqrt(np.mean(speech**2)) / np.sqrt(np.mean(piece**2)) * 10 ** (-snr_db / 20)
    return np.concatenate([speech, piece * gain]).astype(np.float32)


@pytest.fixture(scope="module")
def recordings() -> dict[str, tuple[np.ndarray, str]]:
    """Real speech made into the cases Whisper invents words on: {name: (samples, the words
    spoken in them)}. Cut points are the VAD's bounds of jfk.flac's phrases (measured)."""
    from modules.voice.io.audio import load_audio, resample, voices

    jfk = load_16k(SPEECH / "jfk.flac")
    stereo = load_audio(SPEECH / "stereo_diarization.wav")
    right = resample(dict(voices(stereo))["right"], stereo.rate_hz, RATE_HZ)
    thunder = load_16k(DATA / "sounds" / "3-103051-C-19.wav")[RATE_HZ // 2 :]  # rain and thunder
    horn = load_16k(DATA / "sounds" / "2-100648-A-43.wav")  # street noise, then a car horn
    return {
        "ends as the file ends (4.5 s)": (_cut(jfk, 3.2, 7.75), "ask not what your country can do for you"),
        "ends as the file ends (2.9 s)": (_cut(jfk, 8.09), "ask what you can do for your country"),
        "short (1.5 s), ends as the file ends": (_cut(jfk, 3.0, 4.52), "ask not"),
        "short (1.3 s), ends as the file ends": (_cut(load_16k(SPEECH / "LJ050-0131.wav"), 6.3), "in this regard"),
        "short (2.5 s), second voice": (_cut(right, 0.1, 2.66), "the horizon seems extremely distant"),
        "trails into rain at -20 dB": (
            _with_noise(_cut(load_16k(SPEECH / "spk1_snt5.wav"), 0, 2.5), thunder, 1.0, 20),
            "sunday is the best part of the week",
        ),
        "trails into street noise at -10 dB": (
            _with_noise(_cut(load_16k(SPEECH / "spk1_snt4.wav"), 0, 2.45), horn, 1.0, 10),
            "a thin stripe runs down the middle",
        ),
    }


@pytest.mark.parametrize("engine", ENGINE_FIXTURES)
def test_real_speech_at_the_file_s_end_or_before_noise_gives_only_spoken_words(
    engine, recordings, vad, request
) -> None:
    from modules.voice.asr.wer import heard_text, normalised_words, word_errors

    asr = request.getfixturevalue(engine)
    for name, (samples, spoken) in recordings.items():
        text = heard_text(samples, vad, asr)
        invented = [w for w in normalised_words(text) if w not in normalised_words(spoken)]
        assert not invented, (name, text)
        edits, _ = word_errors(spoken, text)
        assert edits <= 1, (name, text)  # real words are kept: at most one missed or misheard


class ClosingHallucination:
    """Stand-in for Whisper's closing hallucination: the real engine's transcript with
    "Thank you for watching." appended, timed after the last word in the margin Whisper is
    given past the speech, as Whisper times the phrase when it invents it."""

    def __init__(self, asr) -> None:
        self.asr, self.name, self.multilingual = asr, asr.name, asr.multilingual

    def transcribe(self, samples_16k: np.ndarray):
        from modules.voice.asr.engines import Word

        transcript = self.asr.transcribe(samples_16k)
        end_s = len(samples_16k) / RATE_HZ
        t0 = max(transcript.words[-1].t_end, end_s - 0.15)
        step = (end_s - t0) / 4
        extra = [
            Word(text, t0 + i * step, t0 + (i + 1) * step, 0.6)
            for i, text in enumerate(["Thank", "you", "for", "watching."])
        ]
        return dataclasses.replace(
            transcript, text=transcript.text + " Thank you for watching.", words=transcript.words + extra
        )


def test_words_timed_after_the_speech_are_dropped_stand_in_hallucination(faster_engine, recordings, vad) -> None:
    from modules.voice.listen.hearing import hear

    samples, spoken = recordings["ends as the file ends (2.9 s)"]
    heard = hear(samples, vad.segments(samples), ClosingHallucination(faster_engine), one_turn=False)
    text = " ".join(h.text for h in heard if h.text).lower()
    assert "watching" not in text and "thank" not in text, text
    assert text.rstrip(".") == spoken, text
    turn = hear(samples, vad.segments(samples), ClosingHallucination(faster_engine), one_turn=True)
    assert [h.text.lower().rstrip(".") for h in turn] == [spoken]
