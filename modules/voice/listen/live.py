"""Live listening: the microphone, frame by frame, into one ``turn`` scene per finished turn.

Each 32 ms frame goes to silero-vad and the end-of-turn detector (``listen.endpoint``).
While the user speaks, the speech so far is transcribed every ``partial_every_s`` by the
quick decoder (``asr/quick.py``: Whisper with its window cut to the speech, ~0.1 s) and
published as ``partial`` scenes. When a pause begins, the turn model (Smart Turn,
``listen/turn_model.py``) and the quick decoder judge the speech before it, side by side:
the verdict tells the detector whether the turn is over, and the words become the turn's
transcript if it closes in that same pause (no ASR after the close).

Full duplex: the microphone and the speaker are one stream for the whole session
(``io/duplex.py``), and what the speaker plays is the reference of the echo canceller
every microphone frame passes through (``io/echo.py``), so the microphone is never deaf.
The user's speech over the agent's voice holds the speaker within a frame or two of its
onset; a backchannel, a sound without words or the agent's own echo lets the reply go on
(``listen/echo_guard.py``), anything else cuts it (:class:`BargeIn`, ``listen/floor.py``).
Before listening, every engine is loaded and the pipeline runs once on real speech, so the
first turn is not slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from agent.bus import Trace
from agent.lexicon import core_of, text_lexemes
from agent.parts import Result
from agent.paths import ASSETS
from agent.scene import Scene
from modules.voice.asr.engines import Transcript
from modules.voice.engines import VoiceEngines
from modules.voice.io.audio import load_audio, resample
from modules.voice.io.devices import Frames, Microphone
from modules.voice.io.duplex import AudioLoop
from modules.voice.io.echo import EchoCanceller
from modules.voice.io.file_mic import FileMicrophone
from modules.voice.io.playback import wait_heard
from modules.voice.io.recording import LiveRecorder
from modules.voice.io.start_tone import start_tone
from modules.voice.listen.echo_guard import is_backchannel, is_own_words
from modules.voice.listen.endpoint import TurnDetector
from modules.voice.listen.floor import Floor
from modules.voice.listen.hearing import Heard, hear, to_scene
from modules.voice.listen.wake import WakeGate
from modules.voice.options import VoiceOptions
from modules.voice.rates import FRAME_S, RATE_HZ, samples_in
from modules.voice.speak import praat_worker

log = logging.getLogger(__name__)

#: real speech the live loop hears once before it listens, so the first turn is not slow.
WARM_UP_AUDIO = ASSETS / "audio" / "jfk.flac"
#: how much of it (s).
WARM_UP_S = 3.0


def warm_up(engines: VoiceEngines, o: VoiceOptions) -> None:
    """Load every engine, start the realiser's Praat worker (``speak/praat_worker.py``) and
    run the listening pipeline once on real speech: the first call of openai-whisper's word
    timing compiles, and librosa imports slowly. Once per ``engines``: listening again (the
    sound server came back) does not wait for it.

    Raises:
        WeightsMissing, VoiceMissing: a model is not here.
    """
    if engines.warmed:
        return
    engines.tts(o.voice)
    praat_worker.start()  # the realiser's Praat calls leave this process's threads alone
    audio = load_audio(WARM_UP_AUDIO)
    samples = resample(audio.mono(), audio.rate_hz, RATE_HZ)[: samples_in(WARM_UP_S)]
    for heard in hear(samples, engines.vad().segments(samples), engines.asr(), one_turn=True):
        to_scene(heard, Scene(channel="voice", kind="listen.live"), str(WARM_UP_AUDIO))
    if o.end_of_turn in ("model", "words"):
        judge_pause(samples, engines, o)
    is_own_words("warm", ["warm"])  # the echo guard's lemma tables (~0.5 s), not on the first turn
    engines.warmed = True


def hear_live(
    samples: np.ndarray,
    engines: VoiceEngines,
    transcript: Transcript | None = None,
    mark: Callable[[str], None] | None = None,
    speech_probs: np.ndarray | None = None,
) -> Heard | None:
    """What a live turn's audio holds: the heard ``turn`` (VAD, the words, the voice
    measured), or None for audio without words.

    Args:
        samples: 16 kHz mono float32, the turn from its pre-roll on.
        transcript: the words already transcribed in a pause, if they cover the speech.
        mark: called with each stage that ends (``vad``, ``asr``, ``analyse``).
        speech_probs: the live VAD's probability for each 32 ms frame of ``samples``: its
            speech segments come from them (the VAD does not read the turn again).
    """
    marked = mark or (lambda stage: None)
    speech = engines.vad().segments(samples, speech_probs)
    marked("vad")
    heard = hear(samples, speech, engines.asr(), True, marked, transcript=transcript)[0]
    return heard if heard.kind == "turn" else None


def hear_live_turn(
    samples: np.ndarray,
    trace: Trace,
    engines: VoiceEngines,
    source: str,
    t_offset_s: float,
    transcript: Transcript | None = None,
    speech_probs: np.ndarray | None = None,
) -> Scene | None:
    """The ``turn`` scene of a turn the detector closed, or None for a turn without words.

    Args:
        samples: 16 kHz mono float32, the turn with its pre-roll and closing silence.
        trace: the ``listen.live`` request's trace for this turn (stages ``endpoint``,
            ``vad``, ``asr``, ``analyse``).
        source: the microphone's name.
        t_offset_s: where the turn starts on the session clock (s).
        transcript: the words already transcribed in the closing pause, if they cover it.
        speech_probs: the live VAD's probability for each 32 ms frame of ``samples``.
    """
    trace.mark("endpoint")
    heard = hear_live(samples, engines, transcript, trace.mark, speech_probs)
    if heard is None:
        log.info("live: a sound without words; not a turn")
        return None
    return to_scene(heard, trace, source, t_offset_s)


@dataclass
class Draft:
    """The turn as it stood at a pause: heard (on a worker thread) as soon as the pause
    was judged, so that the turn, if it closes there, needs no more work; published as a
    ``turn.draft`` when the pause is doubted (``scene_id``)."""

    #: where the speech before the pause ends (the detector's ``speech_end_sample``).
    speech_end_sample: int
    heard: asyncio.Task[Heard | None]
    scene_id: str | None = None
    #: its publication was considered (it goes out at most once).
    considered: bool = False


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
    started = time.perf_counter()
    quick = engines.quick() if o.end_of_turn == "model" else None
    with ThreadPoolExecutor(2, thread_name_prefix="judge") as pool:
        model = pool.submit(engines.turn_model().finished, audio) if o.end_of_turn == "model" else None
        if quick is not None:
            heard = quick.text(audio)
            transcript = Transcript(heard.text, language=o.language or "en")
        else:
            transcript = engines.asr().transcribe(audio)
        words_s = time.perf_counter() - started
        judged = Judgement(transcript, model.result() if model is not None else None)
    log.debug(
        "live: pause judged in %.0f ms (words %.0f ms): P(finished) %s, %r",
        1000 * (time.perf_counter() - started),
        1000 * words_s,
        "-" if judged.finished_p is None else f"{judged.finished_p:.2f}",
        transcript.text,
    )
    return judged


def partial_text(audio: np.ndarray, engines: VoiceEngines) -> str | None:
    """The quick transcript of the speech so far, or None without a quick decoder."""
    quick = engines.quick()
    return quick.text(audio).text if quick is not None else None


class BargeIn:
    """The user's speech while the agent's voice is heard (or queued): the speaker is held
    at its onset, and what follows, heard while the agent is silent, decides: the replies
    are cut (the user takes the floor) or the reply goes on (a backchannel, a sound, or the
    agent's own echo) — see ``listen/echo_guard.py``.

    The onset is ``HOLD_FRAMES`` frames whose speech probability reaches ``o.hold_threshold``
    (below ``vad_threshold``: AEC3 damps a voice's first syllables over the echo) in what the
    echo canceller leaves, once the canceller has found the echo's delay, and unless what it
    leaves is still the agent's own sound (:meth:`~modules.voice.io.echo.EchoCanceller.residual_echo`, asked
    at every frame of speech until the speaker is held, then every ``RECHECK_FRAMES``); a
    turn already under way when a reply starts holds it at once. Speech heard in the
    silence after the hold (past the echo's way back: its measured delay plus
    ``TAIL_MARGIN_S``) cannot be the agent's echo: once there is ``backchannel_max_s`` of
    it, the user has taken the floor.
    """

    def __init__(self, floor: Floor, o: VoiceOptions, canceller: EchoCanceller | None) -> None:
        self.floor = floor
        self.o = o
        self.canceller = canceller
        #: the speaker is held for the turn in progress (since ``hold_at_s``, monotonic).
        self.holding = False
        self.hold_at_s = -1e9
        #: when the agent's voice was last audible (monotonic s).
        self.audible_at_s = -1e9
        #: the turn in progress began while the agent was audible (or just after).
        self.overlapped = False
        #: speech frames of the turn in progress (or the last one, once closed) heard while the agent was silent.
        self.in_silence_frames = 0
        self._in_turn = False
        self._run = 0  # consecutive frames at ``hold_threshold`` or above
        #: consecutive frames below ``hold_threshold`` (what holds the speaker is what keeps it held).
        self.quiet_frames = 0
        self._held_frames = 0
        self._vetoes = 0  # frames of the stretch of speech the echo guard kept from holding

    def _own_echo(self) -> bool:
        """True while the speech heard may be the agent's own voice left by the canceller
        (never while its voice is known not to reach the microphone)."""
        c = self.canceller
        return c is not None and not c.delay.absent and (not c.delay.locked or c.residual_echo())

    def _echo_possible(self) -> bool:
        """False when the agent's voice is known not to come back through the microphone
        (a headset; the virtual devices without their loopback): speech over it is the user's."""
        return not (self.canceller is not None and self.canceller.delay.absent)

    def _echo_tail_s(self) -> float:
        """How long the agent's voice still comes back after it stops (s)."""
        return (self.canceller.delay.delay_s if self.canceller is not None else 0.0) + TAIL_MARGIN_S

    @property
    def confirmed(self) -> bool:
        """The user has spoken ``backchannel_max_s`` over the held agent: not a backchannel."""
        return self._in_turn and self.holding and self.in_silence_frames * FRAME_S >= self.o.backchannel_max_s

    def frame(self, speech_prob: float, in_turn: bool, turn_started: bool) -> None:
        """After each frame: hold the speaker when the user is speaking over the agent."""
        audible = self.floor.audible and not self.holding
        now = time.monotonic()
        if audible:
            self.audible_at_s = now
        if turn_started:  # the count is per turn, and kept past its close (``only_echo`` asks then)
            self.overlapped = audible or now - self.audible_at_s < ECHO_TAIL_S
            self.in_silence_frames = 0
        self._in_turn = in_turn
        speech = speech_prob >= self.o.vad_threshold
        self._run = self._run + 1 if speech_prob >= self.o.hold_threshold else 0  # a run that may hold
        if self._run <= 1:
            self._vetoes = 0
        self.quiet_frames = 0 if self._run else self.quiet_frames + 1
        silent_since_s = max(self.hold_at_s if self.holding else -1e9, self.audible_at_s)
        if speech and in_turn and not audible and now - silent_since_s > self._echo_tail_s():
            self.in_silence_frames += 1
        if self.holding:
            self._held_frames += 1
            if (
                self._held_frames % RECHECK_FRAMES == 0
                and self.overlapped
                and self.in_silence_frames == 0
                and self._own_echo()
            ):
                self.release("what was heard is its own echo")
            return
        if not (audible and self.o.barge_in and self.floor.playback is not None):
            return
        # Asked at every frame of speech until it holds: a veto costs one frame, not four.
        onset = self._run >= HOLD_FRAMES
        own_echo = onset and not (in_turn and not self.overlapped) and self._own_echo()
        if (in_turn and not self.overlapped) or (onset and not own_echo):
            self.floor.playback.hold()
            self.holding, self.hold_at_s, self._held_frames = True, now, 0
            if not in_turn:  # a turn may follow: the last one's count is not its own
                self.in_silence_frames = 0
            log.info(
                "live: the user speaks over the agent; speaker held (after %d frames of speech, %d of them "
                "taken for its own echo)",
                self._run,
                self._vetoes,
            )
        elif own_echo:
            self._vetoes += 1
            if self._vetoes == 1:  # said once per stretch of speech
                log.info("live: speech over the agent, but the canceller's output may be its own echo; not held")

    def too_short(self, in_turn: bool) -> bool:
        """True when the speaker is held for speech that stopped ``RELEASE_FRAMES`` frames ago
        (below ``hold_threshold``) without becoming a turn: to be released. (Counted against
        the VAD's own threshold, the reply's frames before it had the count past
        ``RELEASE_FRAMES`` already, and a hold at a speech probability between the two was
        released on its own frame: 14 times in one run of ``bench/duplex.py``, each
        interruption held again only at a frame that reached the VAD's threshold.)"""
        return self.holding and not in_turn and self.quiet_frames >= RELEASE_FRAMES

    def only_echo(self, speech_s: float) -> bool:
        """True for a turn that began over the agent's voice and was never heard in its
        silence (the agent was not held, or the speech stopped with it): short of
        ``OWN_TURN_S`` of speech, that is the agent's own echo."""
        return (
            self.o.barge_in
            and self.overlapped
            and self.in_silence_frames < CONFIRM_FRAMES
            and speech_s < OWN_TURN_S
            and self._echo_possible()
        )

    def release(self, why: str) -> None:
        """Not a barge-in after all (``why``): the reply goes on where it stopped."""
        if self.holding and self.floor.playback is not None:
            self.floor.playback.resume()
            log.info("live: %s; the reply goes on", why)
        self.holding = False

    def take_floor(self) -> list[str]:
        """The user takes the floor: cut every reply queued or playing (and drop the ones
        still awaited). Returns the ids of the replies cut."""
        cut = self.floor.cut() if self.o.barge_in else []
        if self.floor.playback is not None:
            self.floor.playback.forward_stops()  # the cuts first, or the reply resumes a moment
            self.floor.playback.resume()  # cut tracks fade and go; later replies are heard
        self.holding = False
        return cut


#: a turn that starts this soon after the agent's voice stopped may still be its echo (s).
ECHO_TAIL_S = 0.5
#: frames of speech over the agent's voice that hold it (32 ms: a false hold costs a moment's
#: pause, a late one is talking over the user).
HOLD_FRAMES = 1
#: how often (frames) the residual-echo guard is asked again while the speaker is held (a
#: release resumes the reply over the user if the guard errs: not at every frame).
RECHECK_FRAMES = 4
#: a hold whose speech stopped this many frames ago without becoming a turn is released.
RELEASE_FRAMES = 8
#: the agent's voice may still come back this long after the echo's measured delay (s).
TAIL_MARGIN_S = 0.1
#: speech frames heard in the agent's silence that make a turn over its voice the user's.
CONFIRM_FRAMES = 3
#: a turn over the agent's voice this long (s of speech) is the user's even unconfirmed.
OWN_TURN_S = 1.5
#: a doubted pause is drafted once it has lasted this long (s): most pauses inside a
#: sentence are shorter, and a draft costs CPU the next pause's judgement needs.
DRAFT_AFTER_S = 0.3
#: a pause whose turn would close sooner than this (s) is not drafted: the turn comes first.
DRAFT_MIN_WAIT_S = 0.3


async def listen_live(
    request: Scene,
    engines: VoiceEngines,
    o: VoiceOptions,
    floor: Floor,
    publish: Callable[[Scene], Awaitable[None]],
    trace: Callable[[Scene], Trace],
    recorder: LiveRecorder | None = None,
) -> None:
    """Warm up, open the speaker and the microphone (full duplex, echo cancelled; the
    start tone plays, ``io/start_tone.py``) — or, with ``o.input_file``, that file as the
    microphone (``io/file_mic.py``; the call returns at its end) — publish
    ``listening`` (``result.device`` = the microphone), then ``partial`` scenes while the
    user speaks and one ``turn`` per finished turn, until cancelled. Speech over the agent's
    voice holds the speaker at once; beyond ``backchannel_max_s`` of it, or a turn that is
    neither a backchannel nor the agent's own echo, cuts the replies (an ``interrupt`` scene
    whose parents are the replies cut).

    Args:
        request: the ``listen.live`` scene; every scene published is its child.
        engines, o: the module's engines and options.
        floor: the state shared with the module (replies awaited and speaking; this sets
            its ``playback`` to the session's running speaker).
        publish: puts a scene on the bus.
        trace: a fresh trace of a scene (the bus's :meth:`~agent.bus.SceneBus.trace`).
        recorder: records the stream's audio while a session folder is set.

    Raises:
        DeviceError: no microphone or speaker, or the microphone stopped delivering.
        WeightsMissing, VoiceMissing, MachineError: a model is not here.
    """
    await asyncio.to_thread(warm_up, engines, o)
    if o.input_file:  # a file-driven microphone (replay, soak tests); replies go to a file
        source: Frames = FileMicrophone(o.input_file)
        canceller = None
    elif o.writes_file:  # replies go to a file: nothing to hear back, the microphone alone
        source = Microphone(o.device("input"), rate_hz=o.input_rate_hz or None)
        canceller = None
    else:
        duplex = AudioLoop(
            o.device("input"), o.device("output"), o.input_rate_hz or o.output_rate_hz or None, o.echo_cancel
        )
        source, canceller = duplex, duplex.canceller
    async with source:
        if recorder is not None:
            recorder.opened(request, source)
        if isinstance(source, AudioLoop):
            floor.playback = source.playback
            if o.start_tone:  # heard back, it gives the canceller the echo's delay at once
                tone = floor.playback.track(RATE_HZ)
                tone.play(start_tone(RATE_HZ))
                await asyncio.to_thread(wait_heard, tone)  # listening starts when it has sounded
        try:
            await publish(request.derive(kind="listening", channel="voice", result=Result(device=source.name)))
            await _listen(request, engines, o, floor, publish, trace, source, canceller)
        finally:
            floor.playback = None
            if recorder is not None:
                recorder.closed()


async def _listen(
    request: Scene,
    engines: VoiceEngines,
    o: VoiceOptions,
    floor: Floor,
    publish: Callable[[Scene], Awaitable[None]],
    trace: Callable[[Scene], Trace],
    mic: Frames,
    canceller: EchoCanceller | None,
) -> None:
    """The frame loop of :func:`listen_live`."""
    detector = TurnDetector(o.endpoint_options())
    barge = BargeIn(floor, o, canceller)
    wake = WakeGate(o.wake_phrase, o.wake_window_s)
    judging = o.end_of_turn in ("model", "words")
    # The judgement of the current pause: (where the speech before it ends, the task).
    early: tuple[int, asyncio.Task[Judgement]] | None = None
    # The turn as it stood at the current pause, heard ahead (see Draft).
    draft: Draft | None = None
    partial: asyncio.Task[str | None] | None = None
    partial_at_s = 0.0  # seconds of speech when the last partial transcript was asked for

    async def no_turn(why: str) -> None:
        """Speech that began (``speech.start``) became no turn: said (``speech.void``), so
        that whoever waits for this room's turn (a hub of rooms) waits no longer."""
        floor.cancel_ahead()  # a reply started ahead of it is not this one's
        barge.release(why)
        await publish(request.derive(kind="speech.void", channel="voice", source=mic.name))

    async def interrupt(cut: list[str]) -> None:
        if cut:
            await publish(request.derive(kind="interrupt", channel="voice", parents=cut, source=mic.name))

    lockstep = getattr(mic, "lockstep", False)
    async for frame in mic.frames():
        if lockstep:  # a file: what this frame's time would have let finish, finishes
            pending = [t for t in (early[1] if early else None, partial, draft.heard if draft else None) if t]
            if unfinished := [t for t in pending if not t.done()]:
                await asyncio.wait(unfinished)
        was_in_turn = detector.in_turn
        speech_prob = engines.vad().frame_probability(frame)
        turn = detector.feed(frame, speech_prob)
        if detector.in_turn and not was_in_turn:  # others may want to know at once (a hub of rooms)
            await publish(request.derive(kind="speech.start", channel="voice", source=mic.name))
        elif was_in_turn and not detector.in_turn and turn is None:  # too short to be a turn
            await publish(request.derive(kind="speech.void", channel="voice", source=mic.name))
        barge.frame(speech_prob, detector.in_turn, detector.in_turn and not was_in_turn)
        if (floor.audible or barge.holding) and speech_prob >= 0.1 and log.isEnabledFor(logging.DEBUG):
            log.debug(
                "live: over the agent: speech %.2f, run %d, held %s; the frame was heard %.0f ms ago",
                speech_prob,
                barge._run,
                barge.holding,
                (time.time() - (mic.frame_wall_s or time.time())) * 1000,
            )
        if barge.confirmed:
            await interrupt(barge.take_floor())  # too long for a backchannel: the user takes the floor
        if detector.pause_started and judging:
            audio = detector.speech_so_far()
            early = (len(audio), asyncio.create_task(asyncio.to_thread(judge_pause, audio, engines, o)))
            detector.expect_text()
        if early is not None and early[1].done() and turn is None:
            if early[1].exception() is None:
                judged = early[1].result()
                text = judged.transcript.text if judged.transcript else None
                if barge.holding and is_backchannel(text):
                    await no_turn(f"a backchannel ({text!r})")
                    detector.reset()
                    early, partial_at_s = None, 0.0
                    continue
                detector.judge_text(text, judged.finished_p)
                if (
                    o.prepare_replies
                    and draft is None
                    and detector.speech_end_sample == early[0]
                    and detector.silence_s >= DRAFT_AFTER_S
                    and detector.wait_left_s >= DRAFT_MIN_WAIT_S
                    and not (barge.holding or floor.audible or barge.only_echo(detector.speech_s))
                ):
                    draft = Draft(
                        early[0],
                        asyncio.create_task(
                            asyncio.to_thread(
                                hear_live,
                                detector.audio_so_far(),
                                engines,
                                judged.transcript,
                                speech_probs=detector.probs_so_far(),
                            )
                        ),
                    )
        if draft is not None and turn is None:
            if detector.speech_end_sample != draft.speech_end_sample:  # the user went on
                if draft.scene_id is not None and floor.draft == draft.scene_id:
                    started_ahead = floor.ahead is not None
                    floor.void_draft()  # a reply started ahead a frame ago fades out, unheard or nearly
                    if started_ahead:
                        log.info("live: the user went on as the reply started ahead; it stopped")
                        barge.release("the reply started ahead stopped")
                draft = None
            elif draft.heard.done() and not draft.considered:
                draft.considered = True
                if (
                    draft.heard.exception() is None
                    and (heard := draft.heard.result()) is not None
                    and detector.wait_left_s >= DRAFT_MIN_WAIT_S / 2
                    and not (barge.holding or floor.audible or barge.only_echo(detector.speech_s))
                    and not (
                        barge.overlapped and is_own_words(heard.text, floor.recent_words(), heard.language or "en")
                    )
                    and (said := wake.take(heard.text, commit=False))
                ):
                    drafted = to_scene(
                        dataclasses.replace(heard, kind="turn.draft", text=said),
                        trace(request),
                        mic.name,
                        detector.t_start_s,
                    )
                    draft.scene_id = drafted.id
                    floor.drafted(drafted.id)
                    log.info("live: pause doubted; drafted %r", drafted.text)
                    await publish(drafted)
        if (
            draft is not None
            and turn is None
            and draft.scene_id is not None
            and floor.draft == draft.scene_id
            and detector.wait_left_s <= o.prepared_lead_s + 1e-6
            and not barge.holding
            and floor.start_ahead()
        ):  # its first sample sounds as the turn closes (the speaker's way out is ~45 ms)
            log.info("live: the reply prepared for the draft starts ahead of the close")
        floor.expire_ahead()
        if partial is not None and partial.done():
            text = partial.result() if partial.exception() is None else None
            partial = None
            if text and detector.in_turn and wake.addresses(text):
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
            if barge.too_short(detector.in_turn):
                barge.release("too short for a turn")
            continue
        transcript = None
        if early is not None and early[0] == turn.speech_end_sample:
            with contextlib.suppress(Exception):  # on failure: transcribe afresh
                transcript = (await early[1]).transcript
        ahead, drafted_id = None, None
        if draft is not None and draft.speech_end_sample == turn.speech_end_sample:
            with contextlib.suppress(Exception):  # on failure: hear the turn afresh
                ahead = await draft.heard
                drafted_id = draft.scene_id
        if log.isEnabledFor(logging.DEBUG):
            if ahead is not None or draft is None:
                why = "yes" if ahead is not None else "no draft"
            else:
                why = f"no (its speech ends at {draft.speech_end_sample}, the turn's at {turn.speech_end_sample})"
            log.debug("live: turn closed after %.2f s of silence; heard ahead: %s", turn.silence_s, why)
        if floor.ahead is not None:  # started a frame ago for the draft
            if ahead is not None and drafted_id is not None and floor.draft == drafted_id:
                if barge.holding:
                    barge.release("the turn closed as drafted")  # what held was the reply started ahead
            else:
                floor.cancel_ahead()  # the turn is not the one drafted (not expected)
        early, draft, partial_at_s = None, None, 0.0
        traced = trace(request)
        # The end of speech, on the clock of the frames: the closing silence ended with the
        # frame just taken, heard when the device delivered it (the loop may run behind).
        heard_at_s = mic.frame_wall_s if mic.frame_wall_s is not None else time.time()
        traced.mark("speech_end", heard_at_s - turn.silence_s)
        if ahead is not None:  # heard in the pause, and nothing was said since: its words are final
            traced.mark("endpoint")
            traced.mark("asr")
            scene: Scene | None = to_scene(ahead, traced, mic.name, turn.t_start)
            if scene is not None and drafted_id is not None:
                scene.parents.append(drafted_id)  # the draft it confirms
        else:
            scene = await asyncio.to_thread(
                hear_live_turn, turn.samples, traced, engines, mic.name, turn.t_start, transcript, turn.speech_probs
            )
        if scene is None:
            await no_turn("a sound without words")
            continue
        if barge.only_echo(turn.speech_s):
            log.info("live: %r was heard only while the agent spoke; its own echo, not a turn", scene.text)
            await no_turn("its own echo")
            continue
        if barge.overlapped and is_own_words(scene.text, floor.recent_words(), scene.language or "en"):
            log.info("live: heard the agent's own words (%r); not a turn", scene.text)
            await no_turn("its own echo")
            continue
        if barge.holding and turn.speech_s <= o.backchannel_max_s and is_backchannel(scene.text):
            await no_turn(f"a backchannel ({scene.text!r})")
            continue
        said = wake.take(scene.text)
        if not said:
            if said is None:
                log.info("live: %r does not begin with the wake phrase; not a turn", scene.text)
            else:
                log.info("live: the wake phrase (%r); listening for what follows", scene.text)
            await no_turn("not addressed to the agent" if said is None else "the wake phrase alone")
            continue
        if said != scene.text:  # the wake phrase taken out: what was asked
            scene.text, scene.lexemes, scene.core = said, text_lexemes(said), core_of(said, language=scene.language)
        await interrupt(barge.take_floor() if barge.holding or floor.awaiting else [])
        if o.prepare_replies and drafted_id is not None and floor.draft == drafted_id and floor.start_ahead():
            log.info("live: the reply prepared for the draft starts as the turn closes")
        if floor.ahead is not None:
            floor.ahead_turn = scene.id  # its reply takes over what plays
            floor.says(floor.ahead.text)  # its echo may come back before the reply does
        floor.await_reply(scene.id)
        await publish(scene)
