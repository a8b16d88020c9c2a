"""A labelled end-of-turn set, built when used (nothing committed but the texts below).

Used by ``bench/turn_end.py`` and ``tests/test_turn_end.py`` (as ``bench.turn_set``).
Every stream is speech followed by real room tone (the right channel of
``stereo_diarization.wav`` after its speaker has finished, at the speech-to-noise ratio it
was recorded with), 16 kHz mono, one of two labels:

``finished``
    a whole sentence, then 2.2 s of room tone. The turn should close soon after
    ``end_s`` (the last speech sample as silero-vad finds it, unpadded).
``paused``
    a sentence broken after a word that leaves it open ("and", "because", "um", or a
    function word like "the" in the real recordings), ``pause_s`` (0.5, 0.7 or 0.9 s) of
    room tone, then the rest of the sentence. Closing the turn between ``pause_at_s`` and
    the resumption is a cut mid-sentence.

Voices: the real recordings of ``tests/data/speech`` (spk1 ×5, LJ Speech, JFK, the two
voices of the stereo file; real prosody at every cut) and the Piper voice ``joe`` saying
the sentences of :data:`SENTENCES` (rendered whole, then cut, so the pitch before the pause
is the pitch of a sentence that goes on). JFK's speech has two natural mid-sentence pauses
(1.14 s after "Americans", 0.62 s after "for you") and is used as it was spoken.

Cuts: in the gap between two words, at the intensity minimum within 60 ms of the boundary
faster-whisper places between them (the rule of ``tests/data/endpoint/label.py``). Whisper's
word times on Piper's speech are loose, so some Piper cuts fall one short word late ("… market
and I | bought"): still a pause inside a sentence, which is what the set is for; ``before``
gives the intended words.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ROOT / "tests" / "data" / "speech"
LABELS = ROOT / "tests" / "data" / "endpoint" / "labels.json"
RATE_HZ = 16000
PAUSES_S = (0.5, 0.7, 0.9)

#: Sentences for the Piper voice, each with the word it is broken after (its first
#: occurrence). They are spoken whole for the ``finished`` streams.
SENTENCES = (
    ("I went to the market and I bought some fresh bread.", "and"),
    ("We stayed at home because it was raining all day.", "because"),
    ("I was thinking, um, that we could go to the beach.", "um"),
    ("She called me yesterday and told me the whole story.", "and"),
    ("I like this song because it reminds me of the summer.", "because"),
    ("So, um, what time does the last train leave?", "um"),
    ("Turn on the lights in the kitchen and close the door.", "and"),
    ("I can't come tomorrow because I have to work late.", "because"),
    ("My brother is, um, a teacher in a small town.", "um"),
    ("Let's take the bus and meet them at the station.", "and"),
    ("I didn't sleep well because the neighbours were loud.", "because"),
    ("Could you, um, remind me about the meeting on Friday?", "um"),
)
#: real recordings spoken as one finished sentence (file, or file/channel).
REAL_FINISHED = (
    "spk1_snt1.wav",
    "spk1_snt2.wav",
    "spk1_snt3.wav",
    "spk1_snt4.wav",
    "spk1_snt5.wav",
    "LJ050-0131.wav",
    "stereo_diarization.wav/left",
    "stereo_diarization.wav/right",
)


@dataclass
class Stream:
    """One labelled stream (see the module docstring). Times in seconds from its start."""

    name: str
    voice: str
    label: str  # finished | paused
    samples: np.ndarray
    end_s: float
    #: for ``paused``: each mid-sentence pause as (start, end) of its silence.
    pauses_s: tuple[tuple[float, float], ...] = ()
    #: the words before the (first) pause, as said.
    before: str = ""


def _peak(y: np.ndarray) -> float:
    return float(np.percentile(np.abs(y), 99.9))


@functools.cache
def room_tone() -> tuple[np.ndarray, float]:
    """2.2 s of real room tone and the peak of the speech recorded with it."""
    from modules.voice.io.audio import load_audio, resample

    audio = load_audio(SPEECH / "stereo_diarization.wav")
    right = resample(np.ascontiguousarray(audio.samples[:, 1]), audio.rate_hz, RATE_HZ)
    return right[int(2.7 * RATE_HZ) : int(4.9 * RATE_HZ)].astype(np.float32), _peak(right[: int(2.6 * RATE_HZ)])


def tone_for(speech: np.ndarray, seconds: float) -> np.ndarray:
    """``seconds`` of room tone at ``speech``'s speech-to-noise ratio (looped if longer)."""
    tone, speech_peak = room_tone()
    n = int(seconds * RATE_HZ)
    reps = int(np.ceil(n / len(tone)))
    return (np.tile(tone, reps)[:n] * (_peak(speech) / speech_peak)).astype(np.float32)


def load(name: str) -> np.ndarray:
    """A recording of ``tests/data/speech`` (``file/left`` for a channel) at 16 kHz mono."""
    from modules.voice.io.audio import load_audio, resample

    file, _, channel = name.partition("/")
    audio = load_audio(SPEECH / file)
    samples = audio.samples
    if channel:
        samples = np.ascontiguousarray(samples[:, 0 if channel == "left" else 1])
    elif samples.ndim > 1:
        samples = samples.mean(axis=1)
    return resample(samples.astype(np.float32), audio.rate_hz, RATE_HZ).astype(np.float32)


def speech_end_s(samples: np.ndarray) -> float:
    """The last speech sample as silero-vad finds it (unpadded), seconds."""
    from modules.voice.listen.vad import SileroVAD, VadOptions

    return SileroVAD(VadOptions(pad_s=0.0)).segments(samples)[-1][1]


def gap_s(samples: np.ndarray, boundary_s: float) -> float:
    """The intensity minimum (Praat) within 60 ms of a word boundary: where to cut."""
    import parselmouth

    it = parselmouth.Sound(samples.astype(np.float64), RATE_HZ).to_intensity(minimum_pitch=100, time_step=0.005)
    t, v = it.xs(), it.values[0]
    near = np.flatnonzero(np.abs(t - boundary_s) <= 0.06)
    return float(t[near[np.argmin(v[near])]])


def _trim(samples: np.ndarray) -> np.ndarray:
    """Speech without the silence a synthesiser leaves after it (kept: 50 ms)."""
    end = speech_end_s(samples)
    return samples[: int((end + 0.05) * RATE_HZ)]


def finished(name: str, voice: str, speech: np.ndarray) -> Stream:
    stream = np.concatenate([speech, tone_for(speech, 2.2)])
    return Stream(name, voice, "finished", stream, speech_end_s(stream))


def paused(name: str, voice: str, speech: np.ndarray, cut_s: float, pause_s: float, before: str) -> Stream:
    cut = int(cut_s * RATE_HZ)
    stream = np.concatenate([speech[:cut], tone_for(speech, pause_s), speech[cut:], tone_for(speech, 2.2)])
    return Stream(name, voice, "paused", stream, speech_end_s(stream), ((cut_s, cut_s + pause_s),), before=before)


def _word_end_s(words, text: str, target: str) -> tuple[float, str]:
    """The boundary after the first word ``target`` of ``text`` (placed by Whisper's
    words), and the words of ``text`` up to it. Whisper leaves out a filler it hears, so
    one it did not write is placed just before the word that follows it."""
    said = text.split()
    plain = [re.sub(r"[^\w']", "", w.lower()) for w in said]
    j = plain.index(target)
    heard = [re.sub(r"[^\w']", "", w.text.lower()) for w in words]
    if target in heard:
        i = heard.index(target)
        boundary = (words[i].t_end + words[i + 1].t_start) / 2 if i + 1 < len(words) else words[i].t_end
    else:
        i = heard.index(plain[j + 1], max(0, j - 1))
        boundary = words[i].t_start - 0.03
    return boundary, " ".join(said[: j + 1])


@functools.cache
def _piper():
    from modules.voice.tts.piper import PiperTTS, piper_voice

    return PiperTTS(piper_voice("joe"))


def piper_speech(text: str) -> np.ndarray:
    """Piper's joe saying ``text`` at 16 kHz, its trailing silence trimmed."""
    from modules.voice.io.audio import resample

    tts = _piper()
    y = np.concatenate(list(tts.sentences(text)))
    return _trim(resample(y, tts.rate_hz, RATE_HZ).astype(np.float32))


def build(asr) -> list[Stream]:
    """Every stream of the set. ``asr``: a faster-whisper :class:`AsrEngine` (its word
    times place the cuts in the Piper sentences)."""
    streams: list[Stream] = []
    labels = json.loads(LABELS.read_text())
    for name in REAL_FINISHED:
        streams.append(finished(name, name.split("_snt")[0].split(".")[0], load(name)))
    jfk = load("jfk.flac")
    jfk_end = labels["speech/jfk.flac"]["speech_end_s"]
    speech = jfk[: int((jfk_end + 0.05) * RATE_HZ)]
    stream = np.concatenate([speech, tone_for(speech, 2.2)])
    streams.append(
        Stream(
            "jfk.flac",
            "jfk",
            "paused",
            stream,
            speech_end_s(stream),
            tuple((a, b) for a, b in labels["speech/jfk.flac"]["pauses_s"]),
            before="And so my fellow Americans",
        )
    )
    for i in range(1, 6):
        label = labels[f"speech/spk1_snt{i}.wav"]
        speech = load(f"spk1_snt{i}.wav")
        for pause in PAUSES_S:
            streams.append(
                paused(
                    f"spk1_snt{i}.wav+{pause}",
                    "spk1",
                    speech,
                    label["cut_after_continuation_s"],
                    pause,
                    label["words_before_cut"],
                )
            )
    for k, (text, word) in enumerate(SENTENCES):
        speech = piper_speech(text)
        streams.append(finished(f"piper{k + 1}", "piper-joe", speech))
        boundary, before = _word_end_s(asr.transcribe(speech).words, text, word)
        cut = gap_s(speech, boundary)
        for pause in PAUSES_S:
            streams.append(paused(f"piper{k + 1}+{pause}", "piper-joe", speech, cut, pause, before))
    return streams
