"""Speaking a reply: plan (if it came without one), render, play or write, measure.

The work of a ``reply`` scene on a worker thread. The plan is the reply's own, or one the
module makes for its announced voice (``agent.melody.plan_voice`` with ``own`` = the
module's :class:`~agent.parts.VoiceProfile`). The engine the plan (or the config) names
speaks it through :class:`~modules.voice.speak.voicing.Voicing` (realiser, closed loop);
on the speaker each sentence plays while the next is realised. The ``spoken`` scene
carries the plan it was spoken with (naming its engine), the measured ``sound`` and the
``fidelity``, the reply's meaning (text, core, mode, context, act, register), and
``result``: the WAV written or the speaker played on. Stages marked on the trace:
``tts.first`` (the first sound is ready and queued), ``audio.first`` (its first block handed
to the speaker), ``played`` (all heard or written), ``measure``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import numpy as np

from agent.bus import Trace
from agent.melody import plan_voice
from agent.parts import Result, VoiceProfile
from agent.scene import Scene
from agent.voiceplan import VoicePlan
from modules.voice.engines import VoiceEngines
from modules.voice.io.audio import check_wav_path, write_wav
from modules.voice.io.duplex import RemotePlayback
from modules.voice.io.playback import Playback, speaker
from modules.voice.options import VoiceOptions
from modules.voice.speak.prepared import PreparedReply
from modules.voice.speak.stream import ReplyStream
from modules.voice.speak.voicing import Voiced, Voicing

log = logging.getLogger(__name__)

#: how long a reply waits for its first piece still being prepared ahead (s); past it,
#: the reply is rendered afresh.
PREPARED_WAIT_S = 1.0
#: the pause between two pieces of a streaming reply whose plan has no pause of its own (s).
PIECE_GAP_S = 0.35


def render(
    text: str,
    plan: VoicePlan,
    engines: VoiceEngines,
    o: VoiceOptions,
    trace: Trace,
    stop: threading.Event | None = None,
    playback: Playback | RemotePlayback | None = None,
    prepared: PreparedReply | None = None,
    more: ReplyStream | None = None,
) -> tuple[Voiced, Result]:
    """Speak ``text`` on ``plan`` with the engine ``plan.engine`` names, to the WAV file
    ``o.output`` or the speaker: a track on ``playback`` (the live session's running
    speaker, at once) or on a speaker opened for this reply (after ``o.lead_silence_s``).
    Once ``stop`` is set (an interrupt), the speaker fades out within one 20 ms block and
    drops the rest, no further sentence is rendered, and ``Result.cut_at_s`` says how much
    was heard. ``prepared``: this reply's first piece realised ahead
    (``speak/prepared.py``), played at once when it matches ``text`` and ``plan``. ``more``:
    the later pieces of a reply that streams (``speak/stream.py``), spoken after ``text``
    on the same track, each with its own plan, after a sentence's pause; what is measured
    is the whole, against ``plan``.

    Returns:
        what was voiced, and where it went (``Result.path`` or ``Result.device``).

    Raises:
        DeviceError: no speaker, or it failed while playing.
        OSError: the WAV cannot be written (a full disk, a read-only folder).
        VoiceMissing, BarkWeightsMissing, BarkMissing: the engine's model is not here.
    """
    engine = engines.engine(plan.engine or engines.engine_name(plan))
    pieces_ahead = None
    started = None  # the track the prepared piece already plays on (started ahead of this reply)
    if prepared is not None and prepared.matches(text, plan):
        pieces_ahead = prepared.take(PREPARED_WAIT_S)
        if pieces_ahead is None:
            log.info("voice: the reply prepared ahead failed or took over %.1f s; rendered now", PREPARED_WAIT_S)
        started = prepared.track if pieces_ahead is not None else None
    elif prepared is not None:
        log.info("voice: the reply prepared ahead is not this one (%s); rendered now", prepared.difference(text, plan))
        prepared.cut_ahead()
    voicing = prepared.voicing if prepared is not None and pieces_ahead is not None else Voicing(engine)
    if pieces_ahead is not None:
        trace.mark("prepared")
    if o.writes_file:
        if more is None:
            voiced = voicing.render(text, plan)
        else:  # the whole reply, once its last piece is here
            voicing.corrections = 0
            parts = list(voicing.sentences(text, plan))
            for more_text, more_plan in more.pieces(stop):
                parts.append(_gap(plan, engine.rate_hz))
                parts.extend(voicing.sentences(more_text, more_plan or plan))
            voiced = voicing.finish(parts, " ".join([text, *more.texts]), plan)
        trace.mark("tts.first")
        write_wav(o.output, voiced.samples, voiced.rate_hz)
        trace.mark("played")
        return voiced, Result(path=o.output)
    pieces: list[np.ndarray] = []
    # A speaker opened for this reply may clip its start; the live session's runs already.
    lead_s = o.lead_silence_s if playback is None else 0.0
    lead = np.zeros(int(lead_s * engine.rate_hz), np.float32)
    if started is not None:  # its first piece was queued as the turn closed
        opened = started
    elif playback is not None:
        opened = playback.track(engine.rate_hz, stop)
    else:
        opened = speaker(engine.rate_hz, o.device("output"), stop)
    queued_ahead = prepared.played_ahead if started is not None and prepared is not None else 0
    with opened as track:
        sentences = pieces_ahead if pieces_ahead is not None else voicing.sentences(text, plan, first_fast=True)
        for i, piece in enumerate(sentences):
            if track.stop.is_set():
                break
            if i == 0:
                trace.mark("tts.first", prepared.started_unix_s if started is not None and prepared else None)
                if started is None:
                    track.play(lead, sound=False)
            if i >= queued_ahead:
                track.play(piece)
            pieces.append(piece)
        if more is not None and not track.stop.is_set():
            for more_text, more_plan in more.pieces(track.stop):
                gap = _gap(plan, engine.rate_hz)
                track.play(gap, sound=False)
                pieces.append(gap)
                for piece in voicing.sentences(more_text, more_plan or plan, first_fast=True):
                    if track.stop.is_set():
                        break
                    track.play(piece)
                    pieces.append(piece)
    if track.first_sound_unix_s is not None:
        trace.mark("audio.first", track.first_sound_unix_s)
    trace.mark("played")
    cut_at_s = round(max(0.0, track.played_s - lead_s), 3) if track.stop.is_set() else None
    whole = " ".join([text, *more.texts]) if more is not None else text
    return voicing.finish(pieces, whole, plan), Result(device=track.name, cut_at_s=cut_at_s)


def _gap(plan: VoicePlan, rate_hz: int) -> np.ndarray:
    """The silence between two pieces of a streaming reply: the plan's longest pause (its
    sentence pause), else :data:`PIECE_GAP_S`."""
    gap_s = max((p.duration_s for p in plan.pauses), default=PIECE_GAP_S)
    return np.zeros(round(gap_s * rate_hz), np.float32)


def spoken_plan(reply: Scene, own: VoiceProfile, engines: VoiceEngines) -> VoicePlan:
    """The plan a reply is spoken with: its own, or one planned for the voice ``own``, with
    the engine that speaks it named. (The reply's plan is left as it was published: other
    readers hold it too.)"""
    plan = reply.plan or plan_voice(reply, None, own=own)
    return dataclasses.replace(plan, engine=engines.engine_name(plan))


def prepare_reply(draft: Scene, own: VoiceProfile, engines: VoiceEngines) -> PreparedReply:
    """A ``reply.draft`` to realise ahead (``speak/prepared.py``; call its ``run`` on a
    worker thread).

    Raises:
        VoiceMissing, BarkWeightsMissing, BarkMissing: the engine's model is not here.
    """
    plan = spoken_plan(draft, own, engines)
    voicing = Voicing(engines.engine(plan.engine or engines.engine_name(plan)))
    return PreparedReply(draft.text or "", plan, voicing, draft.id)


def speak_reply(
    trace: Trace,
    own: VoiceProfile,
    engines: VoiceEngines,
    o: VoiceOptions,
    stop: threading.Event | None = None,
    playback: Playback | RemotePlayback | None = None,
    prepared: PreparedReply | None = None,
    more: ReplyStream | None = None,
) -> Scene:
    """The ``spoken`` scene of the trace's reply, once it has been heard or written.

    Args:
        trace: the reply's trace (``trace.cause`` is the reply).
        own: the voice the module announced; a reply without a plan is planned for it.
        engines, o: the module's engines and options.
        stop: set by an interrupt: cut the reply short (see :func:`render`).
        playback: the live session's running speaker, or None to open one for this reply.
        prepared: a reply realised ahead (played when it is this reply, see :func:`render`).
        more: the later pieces of a reply that streams (see :func:`render`); the spoken
            scene's text is then all that was said.

    Raises:
        OutputPathError: ``o.output`` cannot be a WAV file (checked before synthesis).
        as :func:`render`.
    """
    reply = trace.cause
    if o.writes_file:
        check_wav_path(o.output)  # before any synthesis is spent on it
    plan = spoken_plan(reply, own, engines)  # the spoken scene's own plan names the engine
    voiced, result = render(reply.text or "", plan, engines, o, trace, stop, playback, prepared, more)
    trace.mark("measure")
    return trace.derive(
        kind="spoken",
        channel="voice",
        text=" ".join([reply.text or "", *more.texts]) if more is not None else reply.text,
        core=reply.core,
        lexemes=reply.lexemes,
        mode=reply.mode,
        context=reply.context,
        act=reply.act,
        register=reply.register,
        language=reply.language,
        plan=plan,
        sound=voiced.sound,
        fidelity=voiced.fidelity,
        result=result,
        t_start=0.0,
        # A reply cut short ends where the listener stopped hearing it.
        t_end=result.cut_at_s if result.cut_at_s is not None else round(len(voiced.samples) / voiced.rate_hz, 3),
    )
