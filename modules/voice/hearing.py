"""Audio → scenes: VAD, one Whisper pass over the speech, words into utterances, timbre.

Whisper only ever sees audio the VAD judged to be speech (from the first speech onset to
the last offset, with a margin), so silence and noise cannot turn into invented text.
Audio without speech becomes a ``sound`` scene (audible) or a ``silence`` scene.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agent.lexicon import core_of, sound_lexemes, text_lexemes
from agent.scene import Scene
from agent.sound import Sound
from modules.voice.asr import AsrEngine, Word
from modules.voice.prosody import analyse, analyse_non_speech, level_track_db

RATE_HZ = 16000
#: audio whose loudest 30 ms frame is below this is silence, not a sound.
SILENCE_DB = -60.0
#: margin of audio kept around the speech span for Whisper, seconds.
ASR_MARGIN_S = 0.2


@dataclass
class Heard:
    """One stretch of heard audio, before it becomes a scene. Times are seconds from the
    start of the samples given to :func:`hear`."""

    kind: str  # utterance | turn | sound | silence
    t_start: float
    t_end: float
    text: str
    words: list[Word]
    sound: Sound
    language: str | None = None


def _assign(words: list[Word], segments: list[tuple[float, float]]) -> list[list[Word]]:
    """Each word goes to the segment holding its midpoint, or the nearest one."""
    groups: list[list[Word]] = [[] for _ in segments]
    for word in words:
        mid = 0.5 * (word.t_start + word.t_end)
        distance = [0.0 if s <= mid <= e else min(abs(mid - s), abs(mid - e)) for s, e in segments]
        groups[int(np.argmin(distance))].append(word)
    return groups


def _word_times(words: list[Word], offset_s: float) -> list[tuple[str, float, float]]:
    return [(w.text, w.t_start - offset_s, w.t_end - offset_s) for w in words]


def _no_mark(stage: str) -> None:
    pass


def hear(samples: np.ndarray, speech: list[tuple[float, float]], asr: AsrEngine,
         one_turn: bool, mark: Callable[[str], None] = _no_mark) -> list[Heard]:
    """Turn 16 kHz mono samples into heard stretches.

    Args:
        samples: float32, shape (n,), 16 kHz.
        speech: the VAD's speech segments in seconds, sorted.
        asr: the recognition engine.
        one_turn: True → the whole speech is one ``turn``; False → one ``utterance`` per
            speech segment.
        mark: called with ``"asr"`` and ``"analyse"`` as each stage ends (for tracing).

    Returns:
        the stretches in time order; without speech, one ``sound`` or ``silence``.
    """
    duration = len(samples) / RATE_HZ
    if speech:
        t0 = max(0.0, speech[0][0] - ASR_MARGIN_S)
        t1 = min(duration, speech[-1][1] + ASR_MARGIN_S)
        transcript = asr.transcribe(samples[int(t0 * RATE_HZ) : int(t1 * RATE_HZ)])
        mark("asr")
        for w in transcript.words:
            w.t_start += t0
            w.t_end += t0
        if transcript.text:
            if one_turn:
                turn = _stretch("turn", samples, speech[0][0], speech[-1][1], transcript.words,
                                speech, transcript.language, transcript.text)
                mark("analyse")
                return [turn]
            out = []
            for (s, e), words in zip(speech, _assign(transcript.words, speech)):
                if words:
                    out.append(_stretch("utterance", samples, s, e, words, [(s, e)],
                                        transcript.language))
                else:
                    out.append(_non_speech(samples, s, e))
            mark("analyse")
            return out
    heard = [_non_speech(samples, 0.0, duration)]
    mark("analyse")
    return heard


def _stretch(kind: str, samples: np.ndarray, t_start: float, t_end: float, words: list[Word],
             speech: list[tuple[float, float]], language: str | None, text: str | None = None) -> Heard:
    piece = samples[int(t_start * RATE_HZ) : int(t_end * RATE_HZ)]
    sound = analyse(piece, RATE_HZ, _word_times(words, t_start),
                    [(max(0.0, s - t_start), e - t_start) for s, e in speech])
    text = text if text is not None else " ".join(w.text for w in words).strip()
    return Heard(kind, t_start, t_end, text, words, sound, language)


def _non_speech(samples: np.ndarray, t_start: float, t_end: float) -> Heard:
    piece = samples[int(t_start * RATE_HZ) : int(t_end * RATE_HZ)]
    level = level_track_db(piece, RATE_HZ) if piece.size else np.array([-120.0])
    if level.max() < SILENCE_DB:
        sound = Sound(duration_s=len(piece) / RATE_HZ, energy_db=float(level.max()), speech_s=0.0)
        return Heard("silence", t_start, t_end, "", [], sound)
    sound = analyse_non_speech(piece, RATE_HZ)
    sound.speech_s = 0.0
    return Heard("sound", t_start, t_end, "", [], sound)


def to_scene(heard: Heard, parent: Scene, source: str, t_offset_s: float = 0.0) -> Scene:
    """The scene of a heard stretch, derived from the request ``parent``.

    ``t_offset_s`` moves the stretch onto the session clock (0 for a file)."""
    if heard.kind == "silence":
        lexemes, core = ["silence"], "silence"
    elif heard.kind == "sound":
        lexemes = sound_lexemes(heard.sound)
        core = "+".join(lexemes[:3]) if lexemes else None
    else:
        lexemes, core = text_lexemes(heard.text), core_of(heard.text, language=heard.language)
    return parent.derive(channel="voice", kind=heard.kind, source=source,
                         t_start=round(heard.t_start + t_offset_s, 3),
                         t_end=round(heard.t_end + t_offset_s, 3),
                         text=heard.text or None, language=heard.language, core=core,
                         lexemes=lexemes, sound=heard.sound)
