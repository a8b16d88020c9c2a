"""Live listening: the microphone, frame by frame, into one ``turn`` scene per finished turn.

Each 32 ms frame goes to silero-vad and the end-of-turn detector (``listen.endpoint``).
When a pause begins, Whisper transcribes the speech so far on a worker thread: the words
tell the detector whether the turn sounds finished, and become the turn's transcript if it
closes in that same pause (no second ASR pass). Half-duplex (``listen.floor``): while a
reply is awaited or spoken, frames are dropped. Before listening, every engine is loaded
and the pipeline runs once on real speech, so the first turn is not slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import numpy as np

from agent.bus import Trace
from agent.parts import Result
from agent.paths import ASSETS
from agent.scene import Scene
from modules.voice.asr.engines import Transcript
from modules.voice.engines import VoiceEngines
from modules.voice.io.audio import load_audio, resample
from modules.voice.io.devices import Microphone
from modules.voice.listen.endpoint import TurnDetector
from modules.voice.listen.floor import Floor
from modules.voice.listen.hearing import hear, to_scene
from modules.voice.options import VoiceOptions
from modules.voice.rates import RATE_HZ, samples_in

log = logging.getLogger(__name__)

#: real speech the live loop hears once before it listens, so the first turn is not slow.
WARM_UP_AUDIO = ASSETS / "audio" / "jfk.flac"
#: how much of it (s).
WARM_UP_S = 3.0


def warm_up(engines: VoiceEngines, o: VoiceOptions) -> None:
    """Load every engine and run the listening pipeline once on real speech: the first
    call of openai-whisper's word timing compiles, and librosa imports slowly.

    Raises:
        WeightsMissing, VoiceMissing: a model is not here.
    """
    engines.tts(o.voice)
    audio = load_audio(WARM_UP_AUDIO)
    samples = resample(audio.mono(), audio.rate_hz, RATE_HZ)[: samples_in(WARM_UP_S)]
    for heard in hear(samples, engines.vad().segments(samples), engines.asr(), one_turn=True):
        to_scene(heard, Scene(channel="voice", kind="listen.live"), str(WARM_UP_AUDIO))


def hear_live_turn(
    samples: np.ndarray,
    trace: Trace,
    engines: VoiceEngines,
    source: str,
    t_offset_s: float,
    transcript: Transcript | None = None,
) -> Scene | None:
    """The ``turn`` scene of a turn the detector closed, or None for a turn without words.

    Args:
        samples: 16 kHz mono float32, the turn with its pre-roll and closing silence.
        trace: the ``listen.live`` request's trace for this turn (stages ``endpoint``,
            ``vad``, ``asr``, ``analyse``).
        source: the microphone's name.
        t_offset_s: where the turn starts on the session clock (s).
        transcript: the words already transcribed in the closing pause, if they cover it.
    """
    trace.mark("endpoint")
    speech = engines.vad().segments(samples)
    trace.mark("vad")
    heard = hear(samples, speech, engines.asr(), True, trace.mark, transcript=transcript)[0]
    if heard.kind != "turn":
        log.info("live: a %s without words; not a turn", heard.kind)
        return None
    return to_scene(heard, trace, source, t_offset_s)


async def listen_live(
    request: Scene,
    engines: VoiceEngines,
    o: VoiceOptions,
    floor: Floor,
    publish: Callable[[Scene], Awaitable[None]],
    trace: Callable[[Scene], Trace],
) -> None:
    """Warm up, open the microphone, publish ``listening`` (``result.device`` = the
    microphone), then one ``turn`` per finished turn, until cancelled.

    Args:
        request: the ``listen.live`` scene; every scene published is its child.
        engines, o: the module's engines and options.
        floor: the half-duplex state shared with the module (which ends each await).
        publish: puts a scene on the bus.
        trace: a fresh trace of a scene (the bus's :meth:`~agent.bus.SceneBus.trace`).

    Raises:
        DeviceError: no microphone, or it stopped delivering.
        WeightsMissing, VoiceMissing: a model is not here.
    """
    await asyncio.to_thread(warm_up, engines, o)
    detector = TurnDetector(o.endpoint_options())
    # A transcript of the speech so far, started when a pause begins (see the docstring).
    early: tuple[int, asyncio.Task[Transcript]] | None = None
    async with Microphone(o.device("input")) as mic:
        await publish(request.derive(kind="listening", channel="voice", result=Result(device=mic.name)))
        async for frame in mic.frames():
            if floor.deaf():
                detector.reset()
                engines.vad().reset()
                early = None
                continue
            turn = detector.feed(frame, engines.vad().frame_probability(frame))
            if detector.pause_started and o.end_of_turn == "words":
                audio = detector.speech_so_far()
                early = (len(audio), asyncio.create_task(asyncio.to_thread(engines.asr().transcribe, audio)))
                detector.expect_text()
            if early is not None and early[1].done() and turn is None:
                if early[1].exception() is None:
                    detector.judge_text(early[1].result().text)
            if turn is None:
                continue
            transcript = None
            if early is not None and early[0] == turn.speech_end_sample:
                with contextlib.suppress(Exception):  # on failure: transcribe afresh
                    transcript = await early[1]
            early = None
            scene = await asyncio.to_thread(
                hear_live_turn, turn.samples, trace(request), engines, mic.name, turn.t_start, transcript
            )
            if scene is not None:
                floor.await_reply(scene.id)
                await publish(scene)
