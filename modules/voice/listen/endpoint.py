"""End of turn for live listening: has the speaker finished, or only paused?

:class:`TurnDetector` takes one 32 ms frame at a time with its speech probability and
returns the whole turn once it is over. A turn starts after ``start_frames`` consecutive
speech frames (keeping ``preroll_s`` of audio before them). When a pause begins, the
detector judges how finished the speech before it sounds, from three kinds of cue:

* **pitch**: the last half second falls → finished; rises or stays level → a
  continuation (or a question) is likely;
* **energy**: the level trails off over the last 0.3 s → finished; speech that stops at
  full strength was cut off mid-phrase;
* **words** (when the caller supplies a transcript of the speech so far, see
  :meth:`TurnDetector.judge_text`): a sentence-final full stop → finished; ``…``, a broken
  word, a last word like "the", "of", "and" (``assets/lexicon/continuation_en.txt``) or a
  filled pause ("um", "uh": the speaker holds the floor) → unfinished. A turn shorter
  than ``short_turn_s`` of speech counts as unfinished.

The cues add up to a finality score in [0, 1]; the silence needed before the turn closes
slides from ``max_silence_s`` (score 0) to ``min_silence_s`` (score 1). While a word
judgement is pending the turn does not close before it arrives (or ``max_silence_s``).
With ``prosodic = False`` the detector is the usual fixed silence timer
(``end_silence_s``). ``bench/vad_eot.py`` measures all three on real speech.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from agent.lexicon import read_word_list
from agent.paths import ASSETS
from modules.voice.analysis import HOP_S, level_track_db, pitch_track_hz
from modules.voice.rates import FRAME_S, FRAME_SAMPLES, RATE_HZ

CONTINUATION_WORDS = ASSETS / "lexicon" / "continuation_en.txt"
#: filled pauses as Whisper spells them: a turn that stops on one is not over.
FILLED_PAUSES = frozenset({"um", "umm", "uh", "uhm", "er", "erm", "ah", "hmm", "mm"})

#: weights of the cues in the finality score (each cue lies in [-1, 1]).
BASE, W_PITCH, W_ENERGY, W_TEXT, SHORT_TURN_PENALTY = 0.45, 0.2, 0.15, 0.4, 0.5


@dataclass
class EndpointOptions:
    """Thresholds (the config's ``vad_threshold``, ``end_silence_s``… feed these)."""

    threshold: float = 0.5
    start_frames: int = 3
    prosodic: bool = True
    end_silence_s: float = 0.8
    min_silence_s: float = 0.35
    max_silence_s: float = 1.2
    min_turn_s: float = 0.3
    short_turn_s: float = 0.6
    max_turn_s: float = 20.0
    preroll_s: float = 0.3
    #: with a turn model: a pause closes after ``sure_silence_s`` when the model's
    #: probability that the speaker finished reaches this (and the words do not end on a
    #: continuation word or filler), else after ``max_silence_s``.
    model_threshold: float = 0.7
    sure_silence_s: float = 0.2


@dataclass
class Turn:
    """A finished turn.

    Attributes:
        samples: 16 kHz mono float32, from the pre-roll to the end of the closing silence.
        t_start: seconds on the stream's clock (since the first frame fed).
        speech_s: seconds of speech frames in it.
        finality: the score (0..1) that closed it; ``silence_s`` the silence waited.
        speech_end_sample: where the final pause began, in ``samples``: a transcript of
            ``samples[:speech_end_sample]`` is a transcript of the whole turn.
        speech_probs: the speech probability fed with each of its 32 ms frames, shape
            (len(samples) / FRAME_SAMPLES,) (the VAD's segments of the turn without running
            the VAD again: ``SileroVAD.segments``).
    """

    samples: np.ndarray
    t_start: float
    speech_s: float
    finality: float
    silence_s: float
    speech_end_sample: int
    speech_probs: np.ndarray


@cache
def continuation_words() -> frozenset[str]:
    return read_word_list(CONTINUATION_WORDS)


def pitch_cue(speech: np.ndarray) -> float:
    """+1 for a clear final fall (−12 st/s or steeper over the last voiced 0.5 s), falling
    to −1 for a rise of +8 st/s; 0 without enough voicing. ``speech``: the last second."""
    track = pitch_track_hz(speech[-RATE_HZ:], RATE_HZ)
    voiced = ~np.isnan(track.f0_hz)
    if voiced.sum() < 5:
        return 0.0
    t, f0 = track.times_s[voiced], track.f0_hz[voiced]
    last = t >= t[-1] - 0.5
    if last.sum() < 5:
        return 0.0
    slope = float(np.polyfit(t[last], 12 * np.log2(f0[last] / np.median(f0)), 1)[0])
    return float(np.clip((-slope - 2.0) / 10.0, -1.0, 1.0))


def energy_cue(speech: np.ndarray) -> float:
    """+1 when the last 0.3 s of sound is 10 dB below the body of the last second (trailing
    off), −0.5 when it is not lower at all (stopped at full strength)."""
    level = level_track_db(speech[-RATE_HZ:], RATE_HZ)
    loud = level > level.max() - 40.0
    if loud.sum() < 10:
        return 0.0
    body = float(np.median(level[loud]))
    n_end = int(0.3 / HOP_S)
    end = float(np.median(level[loud][-n_end:])) if loud.sum() > n_end else body
    return float(np.clip((body - end - 3.0) / 7.0, -0.5, 1.0))


def text_cue(text: str) -> float:
    """+1 for a transcript ending in . ? or !; −1 for one ending in … or a broken word, on
    a continuation word or on a filled pause; −0.5 for no final punctuation; 0 for no words."""
    text = text.strip()
    if not text:
        return 0.0
    if text.endswith(("...", "…", "-")):
        return -1.0
    last = re.sub(r"[^\w']", "", text.split()[-1].lower())
    if last in continuation_words() or last in FILLED_PAUSES:
        return -1.0
    return 1.0 if text[-1] in ".?!" else -0.5


def finality(pitch: float, energy: float, text: float | None, speech_s: float, o: EndpointOptions) -> float:
    """The cues combined into a score in [0, 1] (see the module docstring)."""
    score = BASE + W_PITCH * pitch + W_ENERGY * energy + (W_TEXT * text if text is not None else 0.0)
    if speech_s < o.short_turn_s:
        score -= SHORT_TURN_PENALTY
    return float(np.clip(score, 0.0, 1.0))


class TurnDetector:
    """Feed ``FRAME_SAMPLES``-sample (32 ms) frames with their speech probability; get :class:`Turn` objects.

    After a ``feed`` that starts a pause, :attr:`pause_started` is True: the caller may
    transcribe :meth:`speech_so_far` and hand the text to :meth:`judge_text` (after
    :meth:`expect_text`), while frames keep coming.
    """

    def __init__(self, options: EndpointOptions | None = None) -> None:
        self.o = options or EndpointOptions()
        self._preroll: deque[tuple[np.ndarray, float]] = deque(maxlen=max(1, int(self.o.preroll_s / FRAME_S)))
        self._frames_seen = 0
        self.reset()

    def reset(self) -> None:
        """Drop any turn in progress (e.g. while the agent itself is speaking)."""
        self._turn: list[np.ndarray] | None = None
        self._probs: list[float] = []  # the speech probability of each frame of the turn
        self._run = 0
        self._silence_frames = 0
        self._speech_frames = 0
        self._turn_start_frame = 0
        self._pause_frame = 0
        self._cues: tuple[float, float] = (0.0, 0.0)
        self._needed_s = self.o.end_silence_s
        self._finality = 0.5
        self._text_pending = False
        self.pause_started = False
        self._preroll.clear()

    @property
    def in_turn(self) -> bool:
        return self._turn is not None

    def speech_so_far(self) -> np.ndarray:
        """The turn's samples up to the current pause (the audio to transcribe)."""
        return np.concatenate(self._turn[: self._pause_frame]) if self._turn else np.zeros(0, np.float32)

    def audio_so_far(self) -> np.ndarray:
        """All of the turn in progress, pre-roll included (for partial transcripts)."""
        return np.concatenate(self._turn) if self._turn else np.zeros(0, np.float32)

    def probs_so_far(self) -> np.ndarray:
        """The speech probability of each frame of :meth:`audio_so_far`."""
        return np.asarray(self._probs, np.float32)

    @property
    def speech_s(self) -> float:
        """Seconds of speech frames in the turn so far."""
        return self._speech_frames * FRAME_S

    @property
    def silence_s(self) -> float:
        """Seconds of silence in the current pause (0 while speech goes on)."""
        return self._silence_frames * FRAME_S if self._turn is not None else 0.0

    @property
    def in_pause(self) -> bool:
        """True inside a turn while the speaker is silent (the turn may close)."""
        return self._turn is not None and self._silence_frames > 0

    @property
    def speech_end_sample(self) -> int:
        """Inside a pause: where the speech before it ends, in :meth:`audio_so_far`'s
        samples (the length of :meth:`speech_so_far`); -1 outside a pause."""
        return self._pause_frame * FRAME_SAMPLES if self.in_pause else -1

    @property
    def t_start_s(self) -> float:
        """Where the turn in progress starts (its pre-roll included), seconds on the
        stream's clock."""
        return self._turn_start_frame * FRAME_S

    @property
    def wait_left_s(self) -> float:
        """Seconds of silence still needed before the current pause closes the turn (as
        judged so far; a judgement still pending may shorten it); 0 outside a pause."""
        if not self.in_pause:
            return 0.0
        needed = self.o.max_silence_s if self._text_pending else self._needed_s
        return max(0.0, needed - self._silence_frames * FRAME_S)

    def expect_text(self) -> None:
        """A transcript of :meth:`speech_so_far` is on its way: wait for it before closing."""
        self._text_pending = self.pause_started or self._silence_frames > 0

    def judge_text(self, text: str | None, finished_p: float | None = None) -> None:
        """Apply the word cue (``text``, a transcript of :meth:`speech_so_far`) and a turn
        model's probability that the speaker finished (``finished_p``), either may be None,
        to the current pause (ignored when speech has resumed, and by the fixed timer)."""
        if not self._text_pending or not self.o.prosodic:
            self._text_pending = False
            return
        self._text_pending = False
        cue = text_cue(text) if text is not None else None
        if finished_p is not None:
            # A turn model decides, the words can veto: clearly finished or wait the maximum.
            sure = finished_p >= self.o.model_threshold and (cue is None or cue >= 0.0)
            self._finality = finished_p
            self._needed_s = self.o.sure_silence_s if sure else self.o.max_silence_s
            return
        self._set_finality(finality(*self._cues, cue, self._speech_frames * FRAME_S, self.o))

    def feed(self, frame: np.ndarray, speech_prob: float) -> Turn | None:
        """Add one frame; returns the finished :class:`Turn` or None."""
        index = self._frames_seen
        self._frames_seen += 1
        self.pause_started = False
        speech = speech_prob >= self.o.threshold
        if self._turn is None:
            self._preroll.append((frame, speech_prob))
            self._run = self._run + 1 if speech else 0
            if self._run >= self.o.start_frames:
                self._turn = [f for f, _ in self._preroll]
                self._probs = [p for _, p in self._preroll]
                self._turn_start_frame = index + 1 - len(self._turn)
                self._speech_frames = self._run
                self._silence_frames = 0
                self._preroll.clear()
            return None
        self._turn.append(frame)
        self._probs.append(speech_prob)
        if speech:
            self._speech_frames += 1
            self._silence_frames = 0
            self._text_pending = False
        else:
            if self._silence_frames == 0:
                self._pause_frame = len(self._turn) - 1
                self.pause_started = True
                self._judge_prosody()
            self._silence_frames += 1
        silence_s = self._silence_frames * FRAME_S
        if len(self._turn) * FRAME_S >= self.o.max_turn_s:
            return self._close(silence_s)
        if silence_s >= self._needed_s and not (self._text_pending and silence_s < self.o.max_silence_s):
            return self._close(silence_s)
        return None

    def _set_finality(self, score: float) -> None:
        o = self.o
        self._finality = score
        self._needed_s = o.max_silence_s - score * (o.max_silence_s - o.min_silence_s)

    def _judge_prosody(self) -> None:
        if not self.o.prosodic:
            self._needed_s = self.o.end_silence_s
            return
        speech = np.concatenate(self._turn[max(0, self._pause_frame - int(1.0 / FRAME_S)) : self._pause_frame])
        self._cues = (pitch_cue(speech), energy_cue(speech))
        self._set_finality(finality(*self._cues, None, self._speech_frames * FRAME_S, self.o))

    def _close(self, silence_s: float) -> Turn | None:
        frames, probs, speech_s = self._turn, self._probs, self._speech_frames * FRAME_S
        t_start = self._turn_start_frame * FRAME_S
        score, pause_frame = self._finality, self._pause_frame if self._silence_frames else len(self._turn)
        self.reset()
        if speech_s < self.o.min_turn_s:
            return None
        return Turn(
            np.concatenate(frames),
            t_start,
            speech_s,
            score,
            silence_s,
            pause_frame * FRAME_SAMPLES,
            np.asarray(probs, np.float32),
        )


def replay(
    samples: np.ndarray,
    speech_probs: Sequence[float],
    options: EndpointOptions,
    transcribe: Callable[[np.ndarray], str] | None = None,
    text_takes_real_time: bool = True,
    turn_model: Callable[[np.ndarray], float] | None = None,
) -> list[float]:
    """Run a recorded stream through a detector as the live loop does; returns the times
    (seconds from the stream's start) at which turns closed.

    Args:
        samples: 16 kHz mono, frame ``k`` is ``samples[FRAME_SAMPLES k : FRAME_SAMPLES (k + 1)]``.
        speech_probs: the VAD's probability for each frame.
        transcribe: when given, the speech so far is transcribed at every pause onset and
            the text judged, like the live loop's word cue.
        turn_model: when given, its probability that the speaker finished, for the speech
            so far at every pause onset (timed with the transcription).
        text_takes_real_time: the text reaches the detector after as many frames as the
            transcription really took (False: at once).
    """
    detector = TurnDetector(options)
    closes: list[float] = []
    arrival, text, finished_p = None, None, None
    for k, prob in enumerate(speech_probs):
        turn = detector.feed(samples[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES], prob)
        if (transcribe is not None or turn_model is not None) and detector.pause_started:
            started = time.perf_counter()
            so_far = detector.speech_so_far()
            text = transcribe(so_far) if transcribe is not None else None
            finished_p = turn_model(so_far) if turn_model is not None else None
            took = int(np.ceil((time.perf_counter() - started) / FRAME_S)) if text_takes_real_time else 0
            arrival = k + took
            detector.expect_text()
        if arrival is not None and k >= arrival:
            detector.judge_text(text, finished_p)
            arrival = None
        if turn is not None:
            closes.append((k + 1) * FRAME_S)
    return closes
