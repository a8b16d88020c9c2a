"""Live listening: the microphone, frame by frame, into one ``turn`` scene per finished turn.

Each 32 ms frame goes to silero-vad and the end-of-turn detector (``listen.endpoint``).
While the user speaks, the speech so far is transcribed every ``partial_every_s`` by the
quick decoder (``asr/quick.py``: Whisper with its window cut to the speech, ~0.1 s) and
published as ``partial`` scenes. When a pause begins, the turn model (Smart Turn,
``listen/turn_model.py``) and the quick decoder judge the speech before it, side by side:
the verdict tells the detector whether the turn is over, and the words become the turn's
transcript if it closes in that same pause (no ASR after the close). Half-duplex
(``listen.floor``): while a reply is awaited or spoken, frames are dropped. Before
listening, every engine is loaded and the pipeline runs once on real speech, so the first
turn is not slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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
    if o.end_of_turn in ("model", "words"):
        judge_pause(samples, engines, o)


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


@dataclass
class Judgement:
    """What was made of a pause: the transcript of the speech before it and the turn
    model's probability that the speaker finished (either None when not asked)."""

    transcript: Transcript | None
    finished_p: float | None


def judge_pause(audio: np.ndarray, engines: VoiceEngines, o: VoiceOptions) -> Judgement:
    """Transcribe the speech before a pause (the quick decoder, else the full engine) and,
    with ``end_of_turn = model``, ask the turn model, the two side by side on two threads.

    Raises:
        WeightsMissing, MachineError: a model is not here.
    """
    quick = engines.quick() if o.end_of_turn == "model" else None
    with ThreadPoolExecutor(2, thread_name_prefix="judge") as pool:
        model = pool.submit(engines.turn_model().finished, audio) if o.end_of_turn == "model" else None
        if quick is not None:
            heard = quick.text(audio)
            transcript = Transcript(heard.text, language=o.language or "en")
        else:
            transcript = engines.asr().transcribe(audio)
        return Judgement(transcript, model.result() if model is not None else None)


def partial_text(audio: np.ndarray, engines: VoiceEngines) -> str | None:
    """The quick transcript of the speech so far, or None without a quick decoder."""
    quick = engines.quick()
    return quick.text(audio).text if quick is not None else None


async def listen_live(
    request: Scene,
    engines: VoiceEngines,
    o: VoiceOptions,
    floor: Floor,
    publish: Callable[[Scene], Awaitable[None]],
    trace: Callable[[Scene], Trace],
) -> None:
    """Warm up, open the microphone, publish ``listening`` (``result.device`` = the
    microphone), then ``partial`` scenes while the user speaks and one ``turn`` per finished
    turn, until cancelled.

    Args:
        request: the ``listen.live`` scene; every scene published is its child.
        engines, o: the module's engines and options.
        floor: the half-duplex state shared with the module (which ends each await).
        publish: puts a scene on the bus.
        trace: a fresh trace of a scene (the bus's :meth:`~agent.bus.SceneBus.trace`).

    Raises:
        DeviceError: no microphone, or it stopped delivering.
        WeightsMissing, VoiceMissing, MachineError: a model is not here.
    """
    await asyncio.to_thread(warm_up, engines, o)
    detector = TurnDetector(o.endpoint_options())
    judging = o.end_of_turn in ("model", "words")
    # The judgement of the current pause: (where the speech before it ends, the task).
    early: tuple[int, asyncio.Task[Judgement]] | None = None
    partial: asyncio.Task[str | None] | None = None
    partial_at_s = 0.0  # seconds of speech when the last partial transcript was asked for
    async with Microphone(o.device("input"), rate_hz=o.input_rate_hz or None) as mic:
        await publish(request.derive(kind="listening", channel="voice", result=Result(device=mic.name)))
        async for frame in mic.frames():
            if floor.deaf():
                detector.reset()
                engines.vad().reset()
                early, partial_at_s = None, 0.0
                continue
            turn = detector.feed(frame, engines.vad().frame_probability(frame))
            if detector.pause_started and judging:
                audio = detector.speech_so_far()
                early = (len(audio), asyncio.create_task(asyncio.to_thread(judge_pause, audio, engines, o)))
                detector.expect_text()
            if early is not None and early[1].done() and turn is None:
                if early[1].exception() is None:
                    judged = early[1].result()
                    detector.judge_text(judged.transcript.text if judged.transcript else None, judged.finished_p)
            if partial is not None and partial.done():
                text = partial.result() if partial.exception() is None else None
                partial = None
                if text and detector.in_turn:
                    await publish(request.derive(kind="partial", channel="voice", text=text, source=mic.name))
            if (
                o.partial_every_s > 0
                and partial is None
                and (early is None or early[1].done())
                and detector.in_turn
                and detector.speech_s - partial_at_s >= o.partial_every_s
            ):
                partial_at_s = detector.speech_s
                partial = asyncio.create_task(asyncio.to_thread(partial_text, detector.audio_so_far(), engines))
            if turn is None:
                continue
            transcript = None
            if early is not None and early[0] == turn.speech_end_sample:
                with contextlib.suppress(Exception):  # on failure: transcribe afresh
                    transcript = (await early[1]).transcript
            early, partial_at_s = None, 0.0
            traced = trace(request)
            # The end of speech, on the clock of the frames: the closing silence just ended.
            traced.mark("speech_end", time.time() - turn.silence_s)
            scene = await asyncio.to_thread(
                hear_live_turn, turn.samples, traced, engines, mic.name, turn.t_start, transcript
            )
            if scene is not None:
                floor.await_reply(scene.id)
                await publish(scene)
