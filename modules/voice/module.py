"""VoiceModule: the voice channel on the bus — it listens and it speaks.

This file only routes: each scene goes to the room that does the work (``listen/``,
``speak/``), and whatever they raise becomes an ``error`` scene whose ``error`` part
carries the exception's own reason (``agent.errors``); the module keeps running.

Scenes it handles:

``listen.file`` (``request.path`` = an audio file)
    publishes one ``utterance`` per stretch of speech (or one ``sound``/``silence``),
    then ``done`` with ``result.count`` = the number of scenes heard.
``listen.turn`` (``request.path`` = an audio file)
    publishes the whole file as one heard ``turn`` (for the mind to answer), or an
    ``error`` with reason ``input.no-speech``.
``listen.live``
    opens the speaker and the microphone for the session (or, with ``input_file``, reads
    that file as the microphone, as fast as it hears, and publishes ``done`` at its end),
    publishes ``listening``
    (``result.device``), then ``partial`` scenes and one ``turn`` per finished turn, full
    duplex: the agent's own voice is cancelled from what it hears, and the user's speech
    over a reply holds it, then cuts it (an ``interrupt`` scene) unless it was only a
    backchannel (``listen/live.py``). While a pause is doubted, the turn as it stands goes
    out as a ``turn.draft`` (nothing is committed to it; the ``turn`` follows, naming the
    draft among its parents, if the speaker does not go on).

Before a ``turn`` goes out it asks who spoke it (``speaker.ask``) when a module that
recognises voices has announced itself (``speaker.recognition``), and names the voice in
the turn's ``speaker`` (``listen/naming.py``).
``reply`` (channel ``voice``)
    plans (if the reply has no plan) for the announced voice, speaks with the plan's
    engine (Piper or Bark), plays or writes the audio, measures it, and publishes
    ``spoken`` (``result.path`` = the WAV or ``result.device`` = the speaker). A reply whose
    ``piece`` is not the last streams: its ``reply.more`` scenes (parent: the reply; a
    language model's next sentences) are spoken after it on the same track as they come,
    until the last piece (``speak/stream.py``); ``spoken`` then says all that was said.
``reply.draft`` (channel ``voice``)
    a reply a mind would give if the current ``turn.draft`` became the turn: its first
    piece is realised ahead, and played at once when that reply comes (``speak/prepared.py``).
``record.start`` (``request.path`` = a session folder, ``agent/record``)
    records every live stream from then on into the folder: ``audio/mic-*.wav`` (what was
    heard, echo cancelled) and ``audio/voice-*.wav`` (what was played), each announced by a
    ``recorded.mic``/``recorded.voice`` scene (``io/recording.py``).
``plot`` (``request.path`` = a spoken scene's JSON, ``request.out_path`` = the PNG,
    default beside it)
    draws the plan against the measured pitch and level; publishes ``done`` with
    ``result.path`` = the PNG.

On start it announces its voice: ``voice/voice.profile`` with ``voice`` = the configured
voice's :class:`~agent.parts.VoiceProfile` (``assets/voices.toml``), which the planner
anchors every plan to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from agent.bus import SceneBus, Trace, error_scene
from agent.errors import ScenevoiceError
from agent.module import EngineStatus, Module
from agent.parts import Result, VoiceProfile
from agent.scene import Scene
from modules.voice.engines import VoiceEngines, engine_statuses, prepare_models
from modules.voice.io.recording import LiveRecorder
from modules.voice.listen.files import hear_file
from modules.voice.listen.floor import Floor
from modules.voice.listen.live import listen_live
from modules.voice.listen.naming import SpeakerNaming
from modules.voice.options import VoiceOptions
from modules.voice.speak.plot import plot_request
from modules.voice.speak.reply import prepare_reply, speak_reply
from modules.voice.speak.stream import ReplyStream

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the request kinds this module serves, whatever their channel.
REQUESTS = ("listen.file", "listen.turn", "listen.live", "plot", "record.start")


def _import_analysis_libraries() -> None:
    """librosa's first import costs ~2.3 s here (scipy.signal, numba); do it off the path."""
    import librosa.feature
    import librosa.onset  # noqa: F401


class VoiceModule(Module):
    """VoiceModule: hears speech (VAD, Whisper, timbre) and speaks planned replies (Piper or Bark)."""

    name = "voice"
    requests = REQUESTS

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = VoiceOptions.parse(self.options)
        self.loaded = VoiceEngines(self.o)
        self.floor = Floor()
        #: the voice announced on start (None until then, or when the voice table lacks it).
        self.profile: VoiceProfile | None = None
        self._live_task: asyncio.Task | None = None
        self._warm_task: asyncio.Task | None = None
        #: replies being spoken or waiting their turn (the events that cut each short are
        #: the floor's).
        self._replies: set[asyncio.Task] = set()
        self._speaking = asyncio.Lock()
        #: who spoke a turn, asked of a module that recognises voices (``listen/naming.py``).
        self.naming = SpeakerNaming(self.o.speaker_wait_s)
        #: records live streams into a session folder once asked (``record.start``).
        self.recorder = LiveRecorder(self.publish)

    # --- bus ----------------------------------------------------------------------------------

    def wants(self, scene: Scene) -> bool:
        if scene.kind in REQUESTS:
            return True
        if scene.kind in ("reply", "reply.draft", "reply.more"):
            return scene.channel == "voice"
        if scene.kind in ("interrupt", "speaker.recognition"):  # a touch stops a reply; voices are named
            return True
        if scene.kind == "room.choice":  # another room answers what this one heard too
            return bool(self.floor.awaited_by(scene.parents[1:]))
        # An error about a turn we await means no reply will come: listen again.
        return scene.kind == "error" and bool(self.floor.awaited_by(scene.parents))

    async def handle(self, scene: Scene) -> None:
        if scene.kind in ("listen.file", "listen.turn"):
            await self._listen_file(scene)
        elif scene.kind == "listen.live":
            if self._live_task is None or self._live_task.done():
                self._live_task = asyncio.create_task(self._live(scene), name="voice:live")
        elif scene.kind == "reply":
            # Spoken on a task of its own, so that an interrupt is handled while it plays;
            # replies still speak one at a time, in order (the lock is fair). A reply whose
            # first piece already plays (started ahead as its turn closed) takes over its stop.
            stop = self.floor.adopt_ahead(scene.text or "", scene.parents) or threading.Event()
            self.floor.speaking(scene.id, stop)
            if scene.piece is not None and not scene.piece.last:  # more of it will follow
                self.floor.streams[scene.id] = ReplyStream()
            task = asyncio.create_task(self._reply(scene, stop), name=f"voice:reply:{scene.id}")
            self._replies.add(task)
            task.add_done_callback(self._replies.discard)
        elif scene.kind == "reply.more":
            stream = self.floor.streams.get(scene.parents[0]) if scene.parents else None
            if stream is not None:
                self.floor.says(scene.text or "")  # its echo may come back before it ends
                stream.put(scene)
        elif scene.kind == "reply.draft":
            if self.o.prepare_replies and self.floor.drafts_for(scene.parents) and self.profile is not None:
                task = asyncio.create_task(self._prepare(scene, self.profile), name=f"voice:prepare:{scene.id}")
                self._replies.add(task)
                task.add_done_callback(self._replies.discard)
        elif scene.kind == "interrupt":
            for reply_id in scene.parents:
                if reply_id in self.floor.stops:
                    log.info("voice: reply %s interrupted", reply_id)
                    self.floor.stops[reply_id].set()
        elif scene.kind == "speaker.recognition":
            self.naming.ready = True
        elif scene.kind == "plot":
            await self._plot(scene)
        elif scene.kind == "record.start":
            await self._record(scene)
        elif scene.kind == "error":  # no reply will come: what was started ahead of it stops
            self.floor.cancel_ahead()
            self.floor.answered(scene.parents)
        elif scene.kind == "room.choice":  # parents: the hearings, the one answered first
            self.floor.cancel_ahead()
            self.floor.answered(scene.parents[1:])

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        # Answers about who spoke arrive on an inbox of their own: the main one may be busy
        # with the very file whose turn waits for the answer. (The announcement that a module
        # recognises voices comes on the main inbox, subscribed before any module starts.)
        bus.subscribe(f"{self.name}.naming", self.naming.take, self.naming.wants, inbox_size=16)
        self._warm_task = asyncio.create_task(asyncio.to_thread(_import_analysis_libraries), name="voice:warm")
        try:
            self.profile = await asyncio.to_thread(self.loaded.profile)
        except ScenevoiceError as exc:  # replies then fail with this same error, as scenes
            log.warning("voice: no voice to announce: %s", exc)
            return
        await self.publish(Scene(channel="voice", kind="voice.profile", voice=self.profile, source=self.name))

    async def stop(self) -> None:
        if self._live_task is not None and not self._live_task.done():
            self.floor.cut()  # a live session ends now (Ctrl-C, --turns): what plays fades out
        if self._replies:  # let replies already asked for finish (a say, a talk --in)
            await asyncio.gather(*self._replies, return_exceptions=True)
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._live_task
        self.recorder.closed()
        if self._warm_task is not None:
            with contextlib.suppress(Exception):
                await self._warm_task  # a thread cannot be cancelled; it ends on its own

    def _trace(self, cause: Scene) -> Trace:
        """The bus's trace of this module's work on ``cause`` (stages ``voice.<stage>``)."""
        assert self.bus is not None, "started"
        return self.bus.trace(cause, self.name)

    async def _guarded(self, cause: Scene, work: Awaitable[T], writing: str | None = None) -> T | None:
        """``work``'s result, or None after publishing the error scene of what it raised:
        a project error with its own reason; an ``OSError`` while ``writing`` that file
        as ``output.unwritable``. Anything else is a bug: the bus reports ``module.failed``."""
        try:
            return await work
        except ScenevoiceError as exc:
            await self.publish(error_scene(cause, exc))
        except OSError as exc:
            if writing is None:
                raise
            await self.publish(
                error_scene(cause, f"cannot write {writing}: {exc}", "output.unwritable", subject=writing)
            )
        return None

    # --- listening ----------------------------------------------------------------------------

    async def _listen_file(self, request: Scene) -> None:
        one_turn = request.kind == "listen.turn"
        path = request.request.path if request.request is not None else None
        if not path:
            await self.publish(
                error_scene(request, f"{request.kind} needs an audio file in 'request.path'", "input.bad-request")
            )
            return
        trace = self._trace(request)
        scenes = await self._guarded(
            request, asyncio.to_thread(hear_file, path, trace, self.loaded, self.o.channels, one_turn)
        )
        if scenes is None:
            return
        for scene in scenes:
            await self._publish_heard(scene)
        if not one_turn:
            await self.publish(request.derive(kind="done", channel="voice", result=Result(count=len(scenes))))
        elif scenes[0].kind == "turn":
            self.floor.await_reply(scenes[0].id)
        else:
            what = "it is silent" if scenes[0].kind == "silence" else "only a sound without words"
            await self.publish(
                error_scene(
                    scenes[0], f"{path}: no speech found ({what}); nothing to answer", "input.no-speech", subject=path
                )
            )

    async def _publish_heard(self, scene: Scene) -> None:
        """Publish a heard scene; a turn first learns who spoke it (``listen/naming.py``)."""
        if scene.kind == "turn":
            scene = await self.naming.named(scene, self.publish)
        await self.publish(scene)

    async def _record(self, request: Scene) -> None:
        folder = Path(request.request.path) if request.request is not None and request.request.path else None
        if folder is None or not (folder / "audio").is_dir():
            await self.publish(
                error_scene(
                    request,
                    f"record.start needs a session folder (with audio/) in 'request.path', got {folder}",
                    "input.bad-request",
                )
            )
            return
        self.recorder.record_to(folder)

    async def _live(self, request: Scene) -> None:
        async def listened() -> bool:
            await listen_live(request, self.loaded, self.o, self.floor, self._publish_heard, self._trace, self.recorder)
            return True

        try:
            if await self._guarded(request, listened()) and self.o.input_file:  # the file has ended
                await self.publish(request.derive(kind="done", channel="voice", source=self.o.input_file))
        except Exception as exc:  # a background task must not die in silence
            log.exception("voice: live listening failed")
            await self.publish(
                error_scene(request, f"live listening failed: {type(exc).__name__}: {exc}", "module.failed")
            )

    # --- speaking -----------------------------------------------------------------------------

    async def _reply(self, reply: Scene, stop: threading.Event) -> None:
        try:
            async with self._speaking:
                if self.floor.is_stale(reply.parents):
                    log.info("voice: reply %s answers a turn the user has spoken over; not spoken", reply.id)
                elif not stop.is_set():  # interrupted while it waited its turn: never spoken
                    self.floor.says(reply.text or "")  # its echo may come back before it ends
                    await self._speak(reply, stop)
        finally:
            self.floor.answered(reply.parents)
            self.floor.stops.pop(reply.id, None)
            self.floor.streams.pop(reply.id, None)

    async def _prepare(self, draft: Scene, own: VoiceProfile) -> None:
        """Realise a drafted reply's first piece while the turn is still open (on the floor
        at once: a reply that comes before it is done waits for it rather than start again)."""
        try:
            prepared = prepare_reply(draft, own, self.loaded)
        except ScenevoiceError as exc:  # the real reply meets the same error and reports it
            log.info("voice: no reply prepared ahead: %s", exc)
            return
        self.floor.prepared = prepared
        await asyncio.to_thread(prepared.run)

    async def _speak(self, reply: Scene, stop: threading.Event) -> None:
        if self.profile is None:
            self.profile = await self._guarded(reply, asyncio.to_thread(self.loaded.profile))
            if self.profile is None:
                return
        trace = self._trace(reply)
        spoken = await self._guarded(
            reply,
            asyncio.to_thread(
                speak_reply,
                trace,
                self.profile,
                self.loaded,
                self.o,
                stop,
                self.floor.playback,
                self.floor.take_prepared(),
                self.floor.streams.get(reply.id),
            ),
            writing=self.o.output if self.o.writes_file else None,
        )
        if spoken is not None:
            await self.publish(spoken)

    # --- plots --------------------------------------------------------------------------------

    async def _plot(self, request: Scene) -> None:
        asked = request.request
        if asked is None or not asked.path:
            await self.publish(
                error_scene(request, "plot needs a spoken scene's JSON in 'request.path'", "input.bad-request")
            )
            return
        out = asked.out_path or str(Path(asked.path).with_suffix(".png"))
        png = await self._guarded(request, asyncio.to_thread(plot_request, asked.path, out), writing=out)
        if png is not None:
            await self.publish(request.derive(kind="done", channel="voice", result=Result(path=str(png))))

    # --- models -------------------------------------------------------------------------------

    @classmethod
    def engines(cls, options: Mapping[str, Any]) -> list[EngineStatus]:
        return engine_statuses(VoiceOptions.parse(options))

    @classmethod
    def prepare(cls, options: Mapping[str, Any]) -> None:
        """Convert the configured Whisper model for openai-whisper once (cached)."""
        prepare_models(VoiceOptions.parse(options))
