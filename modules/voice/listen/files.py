"""Hearing a file: decode, split into voices, VAD, Whisper, the analyser → heard scenes.

The work of a ``listen.file`` (one scene per utterance, per voice where the channels
carry different speakers) or ``listen.turn`` (the whole file, mixed, as one turn) request.
Runs on a worker thread; the stages are marked on the request's trace (``decode``,
``vad``, ``asr``, ``analyse``).
"""

from __future__ import annotations

import logging

from agent.bus import Trace
from agent.scene import Scene
from modules.voice.engines import VoiceEngines
from modules.voice.io.audio import load_audio, resample, voices
from modules.voice.listen.hearing import hear, to_scene
from modules.voice.rates import RATE_HZ

log = logging.getLogger(__name__)


def hear_file(path: str, trace: Trace, engines: VoiceEngines, channels: str, one_turn: bool) -> list[Scene]:
    """The scenes heard in the audio file ``path``, in time order (then by speaker), each
    a child of the trace's request with ``source`` = the file.

    Args:
        path: the audio file (any format ``io.audio.load_audio`` decodes).
        trace: the request's trace; the scenes are derived from it.
        engines: the module's engines (VAD, Whisper).
        channels: ``auto``/``mix``/``split`` (``io.audio.voices``); ``one_turn`` mixes.
        one_turn: True → one ``turn`` (or ``sound``/``silence``) for the whole file.

    Raises:
        AudioError: the file is missing or cannot be used.
        WeightsMissing: Whisper's weights are not here.
    """
    audio = load_audio(path)
    if audio.warning:
        log.warning("%s: %s; using the %.2f s that decoded", audio.source, audio.warning, audio.duration_s)
    heard = []
    for speaker, mono in voices(audio, "mix" if one_turn else channels):
        samples = resample(mono, audio.rate_hz, RATE_HZ)
        trace.mark("decode")
        speech = engines.vad().segments(samples)
        trace.mark("vad")
        heard += hear(samples, speech, engines.asr(), one_turn, trace.mark, speaker)
    heard.sort(key=lambda h: (h.t_start, h.speaker or ""))
    return [to_scene(h, trace, audio.source) for h in heard]
