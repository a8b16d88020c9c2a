"""Quick text of short speech, for hearing while the user speaks: Whisper with an audio
window cut to the speech instead of 30 s.

Whisper's encoder always hears 30 s (3 000 mel frames); for a 3 s phrase that is ten times
the work. CTranslate2's Whisper encodes any number of frames, so this decoder gives it the
speech plus at least ``PAD_S`` of silence, in a window of at least ``MIN_WINDOW_S``, rounded
up to a whole second. It asks for text only (no timestamps, no word alignment), greedily,
with a length limit from the audio's duration.

A window shorter than Whisper's 30 s is outside what it was trained on: with a window just
1 s longer than the speech, tiny.en repeated its sentence until the length limit in 10 of
36 prefixes of the test recordings. So every result is checked — a run of three or more
words said twice in a row, or more tokens than anyone speaks in that time — and a broken
one is decoded again in a 15 s window, and only if that is broken too, in the full 30 s.
Measured on 36 prefixes (40–100 % of each recording, one voice at a time) against the full
30 s decode (``bench/quick_asr.py``, 2026-11-28):

=================  ===================  =========  ===============
window             words differing      redone     time, median/p90
=================  ===================  =========  ===============
speech + 1 s       3 of 283             10 of 36   91 / 468 ms
**≥ 8 s**          **5 of 283**         **2**      **91 / 146 ms**
≥ 10 s             9 of 283             1          107 / 149 ms
30 s (full)        —                    —          352 / 408 ms
=================  ===================  =========  ===============

With Piper's sentences added (84 prefixes, 2026-12-01): ≥ 8 s broke on 3, each decoded
again at 30 s (26 of 627 words differing, p90 113 ms — but 0.4–0.8 s for a broken one, and
live that was a doubted pause with no reply ready in time: "I went to the market and I
bought some fresh bread. I went to the market and I"); decoded again at 15 s first, the
same 26 words and none left for 30 s (a broken one costs ~0.2 s); at 12 s, 32 words.

(Cutting the text at its first repeat instead of decoding again: 6–10 of 215 words wrong.)

Optionally the decoder is prompted with a disfluent sentence (OpenAI's documented way to
keep "um" and "uh" in the text, which Whisper otherwise drops): the end-of-turn judge
needs to see a filler the speaker stopped on.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass

import numpy as np

from modules.voice.rates import RATE_HZ

log = logging.getLogger(__name__)

#: silence after the speech in the window, and the shortest window, seconds (see above).
PAD_S = 1.0
MIN_WINDOW_S = 8
#: mel frames per second (Whisper's 10 ms hop) and in its full 30 s window.
FRAMES_PER_S = 100
FULL_FRAMES = 3000
#: a broken short-window text is decoded again in this window (mel frames), then in the full one.
RETRY_FRAMES = 1500
#: more text tokens per second of audio than this is a runaway decode, not speech
#: (fast speech is ~4 words/s ≈ 6 tokens/s).
MAX_TOKENS_PER_S = 12
#: a prompt that keeps fillers in the transcript (the text is only context: never output).
FILLER_PROMPT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."

_WORD = re.compile(r"[\w']+")


@dataclass
class QuickText:
    """What :meth:`QuickDecoder.text` heard.

    Attributes:
        text: the words, stripped.
        window_s: the audio window the encoder heard last, seconds (15 or 30 after a fallback).
        fell_back: the short window's text looked broken and was decoded again in a longer one.
    """

    text: str
    window_s: float
    fell_back: bool = False


def looks_broken(text: str, audio_s: float, n_tokens: int) -> bool:
    """True for the failures of a too-short window: a phrase of three or more words said
    twice in a row, a phrase of five or more said twice anywhere (the decoder starting its
    sentence over), or more than ``MAX_TOKENS_PER_S`` tokens per second of audio."""
    if n_tokens > MAX_TOKENS_PER_S * max(audio_s, 1.0):
        return True
    words = [w.lower() for w in _WORD.findall(text)]
    for n in range(3, len(words) // 2 + 1):
        for i in range(len(words) - 2 * n + 1):
            if words[i : i + n] == words[i + n : i + 2 * n]:
                return True
    seen: dict[tuple[str, ...], int] = {}
    for i in range(len(words) - 4):
        run = tuple(words[i : i + 5])
        if run in seen and i >= seen[run] + 5:
            return True
        seen.setdefault(run, i)
    return False


class QuickDecoder:
    """Text of 16 kHz speech from a faster-whisper model's CTranslate2 Whisper.

    Args:
        model: a loaded ``faster_whisper.WhisperModel`` (English-only, or with ``language``).
        language: the language code for a multilingual model (None for an ``.en`` model).
        keep_fillers: prompt the decoder to keep "um"/"uh" (:data:`FILLER_PROMPT`).

    Raises:
        ValueError: a multilingual model without a language (the quick path does not detect
            languages; the caller uses the full engine then).
    """

    def __init__(self, model, language: str | None = None, keep_fillers: bool = False) -> None:
        from faster_whisper.tokenizer import Tokenizer

        multilingual = bool(model.model.is_multilingual)
        if multilingual and not language:
            raise ValueError("the quick decoder needs a language for a multilingual model")
        self._model = model
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, multilingual, task="transcribe", language=language if multilingual else "en"
        )
        prompt: list[int] = []
        if keep_fillers:
            prompt = [self._tokenizer.sot_prev, *self._tokenizer.encode(" " + FILLER_PROMPT)]
        self._prompt = [*prompt, *self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._lock = threading.Lock()

    def _decode(self, samples: np.ndarray, frames: int) -> tuple[str, int]:
        """Greedy text of ``samples`` in a window of ``frames`` mel frames, and its token count."""
        import ctranslate2

        audio = np.zeros(frames * RATE_HZ // FRAMES_PER_S, np.float32)
        n = min(len(samples), len(audio))
        audio[:n] = samples[:n]
        features = self._model.feature_extractor(audio)[:, :frames]
        if features.shape[1] < frames:  # the extractor's last hop
            features = np.pad(features, ((0, 0), (0, frames - features.shape[1])), mode="edge")
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None], np.float32)), to_cpu=False
        )
        limit = int(MAX_TOKENS_PER_S * max(len(samples) / RATE_HZ, 1.0)) + 8
        result = self._model.model.generate(
            encoded, [self._prompt], beam_size=1, max_length=min(limit + len(self._prompt), 448)
        )[0]
        ids = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        return self._tokenizer.decode(ids).strip(), len(ids)

    def text(self, samples_16k: np.ndarray) -> QuickText:
        """The text of ``samples_16k`` (mono float32; speech up to ~25 s).

        Thread-safe (one decode at a time)."""
        samples = np.asarray(samples_16k, np.float32)
        audio_s = len(samples) / RATE_HZ
        frames = min(FULL_FRAMES, FRAMES_PER_S * max(MIN_WINDOW_S, math.ceil(audio_s + PAD_S)))
        first = frames
        with self._lock:
            text, n_tokens = self._decode(samples, frames)
            # A runaway in the short window: decoded again in a longer one (~0.2 s here),
            # and only if that is broken too, in the full 30 s (~0.4 s; 0.7 s when busy).
            for retry in [f for f in (RETRY_FRAMES, FULL_FRAMES) if f > first]:
                if not looks_broken(text, audio_s, n_tokens):
                    break
                log.debug("quick: %r (%.1f s) looks broken; again in %d s", text, audio_s, retry // FRAMES_PER_S)
                frames = retry
                text, n_tokens = self._decode(samples, frames)
        return QuickText(text, frames / FRAMES_PER_S, fell_back=frames > first)
