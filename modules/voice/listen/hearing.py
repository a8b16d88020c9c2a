"""Audio → scenes: VAD, Whisper over the speech, words into utterances, timbre.

Whisper only ever sees audio the VAD judged to be speech (with a margin), so silence and
noise cannot turn into invented text. An English-only model hears the whole speech span
in one pass (context helps it); a multilingual model hears each group of utterances
separately and detects the language of each, so a recording that switches from English to
German gives German scenes for the German part. Audio without speech becomes a ``sound``
scene (audible) or a ``silence`` scene.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from agent.bus import Trace
from agent.lexicon import core_of, sound_lexemes, text_lexemes
from agent.register import voice_register
from agent.scene import Scene
from agent.sound import Sound
from modules.voice.analysis import Tracks, analyse_non_speech, measure, summarise
from modules.voice.asr.engines import AsrEngine, Transcript, Word
from modules.voice.rates import RATE_HZ

#: audio whose loudest 30 ms frame is below this is silence, not a sound.
SILENCE_DB = -60.0
#: margin of audio kept around speech for Whisper, seconds.
ASR_MARGIN_S = 0.2
#: silence, seconds, appended after speech that runs to the end of the samples, so that
#: words Whisper goes on to invent past the end are timed after the speech and dropped.
END_PAD_S = 0.5
#: a multilingual model hears groups of utterances split at gaps of this length or at
#: this total length (Whisper hears 30 s at a time: a longer group would cost a second
#: window), each with its own language detection.
GROUP_GAP_S = 1.0
GROUP_MAX_S = 29.5
#: measures the signal while Whisper transcribes it (both release the GIL).
_MEASURER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="measure")


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
    speaker: str | None = None


def _no_mark(stage: str) -> None:
    pass


def groups(
    speech: list[tuple[float, float]], gap_s: float = GROUP_GAP_S, max_s: float = GROUP_MAX_S
) -> list[list[int]]:
    """Indices of speech segments grouped for one Whisper call each: a group ends at a gap
    of ``gap_s`` or more, or before it would grow past ``max_s``."""
    out: list[list[int]] = []
    for i, (start, end) in enumerate(speech):
        if out:
            first = speech[out[-1][0]][0]
            if start - speech[out[-1][-1]][1] < gap_s and end - first <= max_s:
                out[-1].append(i)
                continue
        out.append([i])
    return out


@dataclass
class _Heard:
    words: list[Word]
    text: str
    language: str | None


def _spoken(words: list[Word], text: str, speech_end_s: float) -> tuple[list[Word], str]:
    """The words that began while someone spoke, and their text.

    Whisper pads what it hears to 30 s and, at the end of a recording, may go on past the
    speech with words nobody said (its closing "Thank you for watching."); their timings lie
    after the VAD's end of speech. A word that starts at or after ``speech_end_s`` (seconds,
    on the words' clock) is dropped; the text is rebuilt from the kept words when any was."""
    kept = [w for w in words if w.t_start < speech_end_s]
    if len(kept) == len(words):
        return words, text
    return kept, " ".join(w.text for w in kept).strip()


def _transcribe(
    samples: np.ndarray, speech: list[tuple[float, float]], asr: AsrEngine, per_group: bool
) -> list[tuple[list[int], _Heard]]:
    """Whisper over each group of segments (one group unless ``per_group``); word times
    moved onto the samples' clock; speech that runs to the end of the samples gets
    ``END_PAD_S`` of silence after it; words after the group's speech are dropped (``_spoken``)."""
    duration = len(samples) / RATE_HZ
    parts = groups(speech) if per_group else [list(range(len(speech)))]
    out = []
    for part in parts:
        t0 = max(0.0, speech[part[0]][0] - ASR_MARGIN_S)
        t1 = min(duration, speech[part[-1]][1] + ASR_MARGIN_S)
        chunk = samples[int(t0 * RATE_HZ) : int(t1 * RATE_HZ)]
        if speech[part[-1]][1] + ASR_MARGIN_S > duration:  # the speech runs to the file's end
            chunk = np.concatenate([chunk, np.zeros(int(END_PAD_S * RATE_HZ), np.float32)])
        transcript = asr.transcribe(chunk)
        moved = [dataclasses.replace(w, t_start=w.t_start + t0, t_end=w.t_end + t0) for w in transcript.words]
        words, text = _spoken(moved, transcript.text, speech[part[-1]][1])
        out.append((part, _Heard(words, text, transcript.language)))
    return out


def _assign(words: list[Word], segments: list[tuple[float, float]]) -> list[list[Word]]:
    """Each word goes to the segment holding its midpoint, or the nearest one."""
    assigned: list[list[Word]] = [[] for _ in segments]
    for word in words:
        mid = 0.5 * (word.t_start + word.t_end)
        distance = [0.0 if s <= mid <= e else min(abs(mid - s), abs(mid - e)) for s, e in segments]
        assigned[int(np.argmin(distance))].append(word)
    return assigned


def hear(
    samples: np.ndarray,
    speech: list[tuple[float, float]],
    asr: AsrEngine,
    one_turn: bool,
    mark: Callable[[str], None] = _no_mark,
    speaker: str | None = None,
    transcript: Transcript | None = None,
) -> list[Heard]:
    """Turn 16 kHz mono samples (one voice) into heard stretches.

    Args:
        samples: float32, shape (n,), 16 kHz.
        speech: the VAD's speech segments in seconds, sorted.
        asr: the recognition engine.
        one_turn: True → all the speech is one ``turn``; False → one ``utterance`` per
            speech segment.
        mark: called with ``"asr"`` and ``"analyse"`` as each stage ends (for tracing).
        speaker: the label of this voice, copied onto every stretch.
        transcript: a transcript of these samples already made (the live loop's, made while
            the speaker paused); with ``one_turn`` it is used instead of transcribing again.

    Returns:
        the stretches in time order; without speech, one ``sound`` or ``silence``.
    """
    duration = len(samples) / RATE_HZ
    tracks = _MEASURER.submit(measure, samples, RATE_HZ)
    if speech:
        if transcript is not None and one_turn:
            words, text = _spoken(transcript.words, transcript.text, speech[-1][1])
            heard = [(list(range(len(speech))), _Heard(words, text, transcript.language))]
        else:
            heard = _transcribe(samples, speech, asr, per_group=asr.multilingual)
        mark("asr")
        if any(h.text for _, h in heard):
            out = _stretches(samples, tracks.result(), speech, heard, one_turn, speaker)
            mark("analyse")
            return out
    out = [_non_speech(samples, tracks.result(), 0.0, duration, speaker)]
    mark("analyse")
    return out


def _stretches(
    samples: np.ndarray,
    tracks: Tracks,
    speech: list[tuple[float, float]],
    heard: list[tuple[list[int], _Heard]],
    one_turn: bool,
    speaker: str | None,
) -> list[Heard]:
    floor_db = tracks.noise_floor_db()
    if one_turn:
        words = [w for _, h in heard for w in h.words]
        text = " ".join(h.text for _, h in heard if h.text)
        by_words = max(heard, key=lambda item: len(item[1].words))[1]
        return [
            _stretch(
                "turn", tracks, speech[0][0], speech[-1][1], words, speech, by_words.language, speaker, floor_db, text
            )
        ]
    out: list[Heard] = []
    for part, h in heard:
        segments = [speech[i] for i in part]
        for (s, e), words in zip(segments, _assign(h.words, segments)):
            if words:
                out.append(_stretch("utterance", tracks, s, e, words, [(s, e)], h.language, speaker, floor_db))
            else:
                out.append(_non_speech(samples, tracks, s, e, speaker))
    return out


def _stretch(
    kind: str,
    tracks: Tracks,
    t_start: float,
    t_end: float,
    words: list[Word],
    speech: list[tuple[float, float]],
    language: str | None,
    speaker: str | None,
    floor_db: float,
    text: str | None = None,
) -> Heard:
    text = text if text is not None else " ".join(w.text for w in words).strip()
    # Whisper may time a word's start a little before the speech the VAD found: its times
    # are kept inside the stretch (a phrase never begins before its utterance).
    span_s = t_end - t_start
    timed = [(w.text, max(0.0, w.t_start - t_start), max(0.0, min(span_s, w.t_end - t_start))) for w in words]
    sound = summarise(
        tracks.slice(t_start, t_end),
        [(text_, t0, max(t0, t1)) for text_, t0, t1 in timed],
        [(max(0.0, s - t_start), e - t_start) for s, e in speech],
        floor_db,
        # Words known without their timings (the live loop's quick transcript): rate and
        # pauses from the text over the speech, as for the agent's own voice.
        text=text or None,
    )
    return Heard(kind, t_start, t_end, text, words, sound, language, speaker)


def _non_speech(samples: np.ndarray, tracks: Tracks, t_start: float, t_end: float, speaker: str | None) -> Heard:
    piece = samples[int(t_start * RATE_HZ) : int(t_end * RATE_HZ)]
    part = tracks.slice(t_start, t_end)
    peak_db = float(part.level_db.max()) if part.n_frames else -120.0
    if peak_db < SILENCE_DB:
        sound = Sound(duration_s=len(piece) / RATE_HZ, energy_db=peak_db, speech_s=0.0)
        return Heard("silence", t_start, t_end, "", [], sound, speaker=speaker)
    sound = dataclasses.replace(analyse_non_speech(piece, RATE_HZ, part), speech_s=0.0)
    return Heard("sound", t_start, t_end, "", [], sound, speaker=speaker)


def to_scene(heard: Heard, parent: Scene | Trace, source: str, t_offset_s: float = 0.0) -> Scene:
    """The scene of a heard stretch, derived from the request ``parent`` (or from its
    trace, so the scene carries the stages marked on it); register and mode come from the
    voice (``agent.register.voice_register``).

    ``source`` is the file or device heard; ``t_offset_s`` moves the stretch onto the
    session clock (0 for a file)."""
    register = mode = None
    if heard.kind == "silence":
        lexemes, core = ["silence"], "silence"
    elif heard.kind == "sound":
        lexemes = sound_lexemes(heard.sound)
        core = "+".join(lexemes[:3]) if lexemes else None
    else:
        lexemes, core = text_lexemes(heard.text), core_of(heard.text, language=heard.language)
        register, mode = voice_register(heard.sound, heard.text)
    return parent.derive(
        channel="voice",
        kind=heard.kind,
        source=source,
        speaker=heard.speaker,
        t_start=round(heard.t_start + t_offset_s, 3),
        t_end=round(heard.t_end + t_offset_s, 3),
        text=heard.text or None,
        language=heard.language,
        core=core,
        lexemes=lexemes,
        sound=heard.sound,
        register=register,
        mode=mode,
    )
