"""Speech recognition: two Whisper engines behind one small interface.

``openai-whisper`` (the card's engine) and ``faster-whisper`` (CTranslate2, int8) run
the same weights (see ``asr.weights``); the config's ``asr`` option picks one. Both
take 16 kHz mono float32 samples (no ffmpeg is needed) and return a :class:`Transcript`
with word timings. Segments Whisper itself judges to be non-speech (no-speech
probability above ``no_speech_threshold`` and mean log-probability below
``logprob_threshold``, Whisper's own rule) are dropped, not passed on as text.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from modules.voice.asr.weights import (
    is_multilingual,
    load_faster_whisper,
    load_openai_whisper,
)

ENGINES = ("openai-whisper", "faster-whisper")


@dataclass
class Word:
    """A recognised word; times in seconds from the start of the transcribed samples."""

    text: str
    t_start: float
    t_end: float
    probability: float


@dataclass
class Transcript:
    """What an engine heard.

    Attributes:
        text: the words, stripped; empty when nothing was said.
        words: word timings, in order.
        language: ISO 639-1 code (detected, or the one forced).
        no_speech_prob: the highest no-speech probability of the kept segments (0..1).
        dropped_segments: how many segments were dropped as non-speech.
    """

    text: str
    words: list[Word] = field(default_factory=list)
    language: str | None = None
    no_speech_prob: float | None = None
    dropped_segments: int = 0


@dataclass
class AsrOptions:
    model: str = "tiny.en"
    language: str | None = None
    threads: int = 2
    beam_size: int = 1
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0


class AsrEngine(Protocol):
    name: str
    #: True when the engine detects the language itself (a multilingual model, no forced
    #: language): then each group of utterances is transcribed separately.
    multilingual: bool

    def transcribe(self, samples_16k: np.ndarray) -> Transcript:
        """Transcribe 16 kHz mono float32 samples (any length)."""
        ...


@dataclass(frozen=True)
class Segment:
    """One segment as either engine decodes it, before post-processing.

    Attributes:
        text: the segment's text as decoded.
        no_speech_prob: Whisper's probability that the window holds no speech (0..1).
        avg_logprob: mean log-probability of the segment's tokens (≤ 0).
        words: word timings, seconds from the start of the transcribed samples.
    """

    text: str
    no_speech_prob: float
    avg_logprob: float
    words: tuple[Word, ...]


def _is_non_speech(segment: Segment, o: AsrOptions) -> bool:
    return segment.no_speech_prob > o.no_speech_threshold and segment.avg_logprob < o.logprob_threshold


def _language(o: AsrOptions) -> str | None:
    if not is_multilingual(o.model):
        return "en"
    return o.language


def transcript_of(segments: list[Segment], language: str | None, o: AsrOptions) -> Transcript:
    """The one post-processing step both engines share: segments Whisper judges to be
    non-speech (``_is_non_speech``) are dropped and counted; the kept segments' text and
    words make the transcript."""
    kept = [seg for seg in segments if not _is_non_speech(seg, o)]
    return Transcript(
        " ".join(t for t in (seg.text.strip() for seg in kept) if t),
        [w for seg in kept for w in seg.words],
        language,
        max((seg.no_speech_prob for seg in kept), default=None),
        len(segments) - len(kept),
    )


class OpenAIWhisper:
    """openai-whisper on the CPU (float32), greedy, with word timestamps."""

    name = "openai-whisper"

    def __init__(self, options: AsrOptions, cache: Path) -> None:
        import torch

        self.options = options
        self.multilingual = _language(options) is None
        torch.set_num_threads(options.threads)
        self._model = load_openai_whisper(options.model, cache)
        self._lock = threading.Lock()

    def transcribe(self, samples_16k: np.ndarray) -> Transcript:
        o = self.options
        with self._lock:
            result = self._model.transcribe(
                np.ascontiguousarray(samples_16k, dtype=np.float32),
                fp16=False,
                language=_language(o),
                word_timestamps=True,
                condition_on_previous_text=False,
                temperature=(0.0, 0.2, 0.4),
                beam_size=o.beam_size if o.beam_size > 1 else None,
                no_speech_threshold=o.no_speech_threshold,
                logprob_threshold=o.logprob_threshold,
                verbose=None,
            )
        segments = [
            Segment(
                seg["text"],
                float(seg["no_speech_prob"]),
                float(seg["avg_logprob"]),
                tuple(
                    Word(w["word"].strip(), float(w["start"]), float(w["end"]), float(w["probability"]))
                    for w in seg.get("words", [])
                ),
            )
            for seg in result["segments"]
        ]
        return transcript_of(segments, result.get("language"), o)


class FasterWhisper:
    """faster-whisper (CTranslate2) on the CPU, int8, greedy, with word timestamps."""

    name = "faster-whisper"

    def __init__(self, options: AsrOptions, cache: Path) -> None:
        self.options = options
        self.multilingual = _language(options) is None
        self._model = load_faster_whisper(options.model, cache, options.threads)
        self._lock = threading.Lock()

    @property
    def model(self):
        """The loaded ``faster_whisper.WhisperModel`` (the quick decoder shares it)."""
        return self._model

    def transcribe(self, samples_16k: np.ndarray) -> Transcript:
        o = self.options
        with self._lock:
            segments, info = self._model.transcribe(
                np.ascontiguousarray(samples_16k, dtype=np.float32),
                language=_language(o),
                beam_size=o.beam_size,
                word_timestamps=True,
                condition_on_previous_text=False,
                temperature=(0.0, 0.2, 0.4),
                no_speech_threshold=o.no_speech_threshold,
                log_prob_threshold=o.logprob_threshold,
                vad_filter=False,
            )
            segments = list(segments)
        return transcript_of(
            [
                Segment(
                    seg.text,
                    float(seg.no_speech_prob),
                    float(seg.avg_logprob),
                    tuple(
                        Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                        for w in (seg.words or [])
                    ),
                )
                for seg in segments
            ],
            info.language,
            o,
        )


def make_engine(engine: str, options: AsrOptions, cache: Path) -> AsrEngine:
    """Build the engine the config names.

    Raises:
        ValueError: unknown engine name.
        WeightsMissing: the model's weights are not here and cannot be downloaded.
    """
    if engine == "openai-whisper":
        return OpenAIWhisper(options, cache)
    if engine == "faster-whisper":
        return FasterWhisper(options, cache)
    raise ValueError(f"unknown ASR engine {engine!r}; choose one of {', '.join(ENGINES)}")
