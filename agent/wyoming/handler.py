"""One Wyoming client connection: ``describe`` → ``info``; ``transcribe`` + audio →
``transcript``; ``synthesize`` (or a synthesize stream) → audio.

A client that breaks the protocol (a header that is not an event, a block over the limit,
an ``audio-chunk`` before ``audio-start``, a format that cannot be converted, more than
:data:`~agent.wyoming.recording.MAX_AUDIO_S` of audio) gets an ``error`` event and is
disconnected; a request the agent cannot serve (an unsupported language or voice, an
engine that failed) gets an ``error`` event and the connection stays. Either way the other
connections go on. Error codes are the project's reasons (``input.bad-request``,
``model.missing``…, see :mod:`agent.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from agent.errors import InputError, ScenevoiceError
from agent.wyoming.info import primary_language, refuse_transcribe, refuse_voice
from agent.wyoming.recording import MAX_AUDIO_S, Recording
from agent.wyoming.sentences import MAX_TEXT_CHARS, SentenceStream
from agent.wyoming.voice import AgentVoice, Heard
from agent.wyoming.wire import EventRefused, GuardedReader

log = logging.getLogger("scenevoice.wyoming")

#: frames per ``audio-chunk`` of a reply (1024 at 22.05 kHz: 46 ms, as Wyoming's servers send).
SAMPLES_PER_CHUNK = 1024


@dataclass
class Served:
    """What every connection shares: the agent, the ``info`` it gives, the settings.

    Attributes:
        voice: the agent's ears and voice (one session for the whole server).
        info: the answer to ``describe``.
        scratch: the folder for the temporary WAVs of what clients send.
        streaming: True to serve the streaming events (transcript-*, synthesize-*).
        max_audio_s: the most audio one transcription may send (seconds).
        connections: the tasks serving clients now (the server cancels them on a stop).
    """

    voice: AgentVoice
    info: Info
    scratch: Path
    streaming: bool = True
    max_audio_s: float = MAX_AUDIO_S
    connections: set[asyncio.Task] = field(default_factory=set)
    #: ``info`` as the event it is sent as (made once).
    info_event: Event = field(init=False)

    def __post_init__(self) -> None:
        self.info_event = self.info.event()


class ProtocolError(InputError):
    """The client broke the protocol; it is told why and disconnected."""


class WyomingHandler(AsyncEventHandler):
    """Serves one client; created by the server for each connection."""

    def __init__(self, served: Served, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.served = served
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or "client")
        self._wire = GuardedReader(reader)
        self._language: str | None = None
        self._recording: Recording | None = None
        self._text: SentenceStream | None = None
        self._stream_voice: SynthesizeVoice | None = None
        self.requests = 0

    # --- the connection -----------------------------------------------------------------------

    async def run(self) -> None:
        """Read and answer events until the client leaves, breaks the protocol, or the
        server stops. Never raises for what a client does."""
        self._is_running = True
        task = asyncio.current_task()
        if task is not None:
            self.served.connections.add(task)
        log.info("%s connected", self.peer)
        try:
            while self._is_running:
                try:
                    event = await self._wire.read_event()
                except EventRefused as exc:
                    log.warning("%s: %s; disconnecting", self.peer, exc)
                    await self._tell(Error(text=str(exc), code="input.malformed"))
                    break
                if event is None or not await self.handle_event(event):
                    break
        except ConnectionError as exc:
            log.info("%s: the connection broke: %s", self.peer, exc)
        except Exception as exc:  # a bug: logged with its traceback, the client told, the others served
            log.exception("%s: internal error", self.peer)
            await self._tell(Error(text=f"internal error: {type(exc).__name__}: {exc}", code="internal"))
        finally:
            if task is not None:
                self.served.connections.discard(task)
            await self.disconnect()
            self.writer.close()
            log.info("%s disconnected after %d request(s)", self.peer, self.requests)

    async def disconnect(self) -> None:
        if self._recording is not None:  # a stream the client abandoned
            self._recording.discard()
            self._recording = None

    async def _tell(self, error: Error) -> None:
        """Send ``error`` if the client still listens."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.write_event(error.event())

    async def handle_event(self, event: Event) -> bool:
        """Answer one event; False to disconnect (after a protocol error, told as an ``error``)."""
        try:
            return await self._dispatch(event)
        except ProtocolError as exc:
            log.warning("%s: %s; disconnecting", self.peer, exc)
            await self._tell(Error(text=str(exc), code=exc.reason))
            return False
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a field missing or of the wrong type
            log.warning(
                "%s: a malformed %s event (%s: %s); disconnecting", self.peer, event.type, type(exc).__name__, exc
            )
            await self._tell(
                Error(text=f"a malformed {event.type} event ({type(exc).__name__}: {exc})", code="input.malformed")
            )
            return False

    async def _dispatch(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.served.info_event)
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
        elif Transcribe.is_type(event.type):
            self._transcribe(Transcribe.from_event(event))
        elif AudioStart.is_type(event.type):
            self._start(AudioStart.from_event(event))
        elif AudioChunk.is_type(event.type):
            self._chunk(AudioChunk.from_event(event))
        elif AudioStop.is_type(event.type):
            await self._stop()
        elif Synthesize.is_type(event.type):
            if self._text is None:  # inside a stream it only repeats the stream's text
                synthesize = Synthesize.from_event(event)
                await self._say([synthesize.text], synthesize.voice)
        elif self.served.streaming and SynthesizeStart.is_type(event.type):
            self._text = SentenceStream()
            self._stream_voice = SynthesizeStart.from_event(event).voice
        elif self.served.streaming and SynthesizeChunk.is_type(event.type):
            stream = self._stream("synthesize-chunk")
            sentences = stream.add(SynthesizeChunk.from_event(event).text)
            if stream.total_chars > MAX_TEXT_CHARS:
                raise ProtocolError(f"more than {MAX_TEXT_CHARS} characters in one synthesize stream")
            await self._say(sentences, None)
        elif self.served.streaming and SynthesizeStop.is_type(event.type):
            rest = self._stream("synthesize-stop").finish()
            if rest:
                await self._say([rest], None)
            self._text, self._stream_voice = None, None
            await self.write_event(SynthesizeStopped().event())
        else:
            log.debug("%s: ignoring a %s event", self.peer, event.type)
        return True

    # --- hearing ------------------------------------------------------------------------------

    def _transcribe(self, transcribe: Transcribe) -> None:
        if self._recording is not None:
            raise ProtocolError("a transcribe event inside an audio stream (send it before audio-start)")
        why = refuse_transcribe(self.served.info, transcribe)
        if why is not None:
            raise ProtocolError(why)
        self._language = transcribe.language or None

    def _start(self, start: AudioStart) -> None:
        if self._recording is not None:
            raise ProtocolError("audio-start inside an audio stream (send audio-stop first)")
        try:
            self._recording = Recording(start, self.served.scratch, self.served.max_audio_s)
        except InputError as exc:
            raise ProtocolError(str(exc)) from None

    def _chunk(self, chunk: AudioChunk) -> None:
        if self._recording is None:
            raise ProtocolError(
                "audio-chunk before audio-start (send transcribe, audio-start, audio-chunk…, audio-stop)"
            )
        try:
            self._recording.add(chunk)
        except InputError as exc:
            raise ProtocolError(str(exc)) from None

    async def _stop(self) -> None:
        recording, self._recording = self._recording, None
        language, self._language = self._language, None
        self.requests += 1
        t0 = time.perf_counter()
        if recording is not None:
            recording.close()
        try:
            if recording is None or recording.frames == 0:
                heard = Heard("")  # no audio: nothing was said
            else:
                heard = await self.served.voice.hear(recording.path)
        except (ScenevoiceError, TimeoutError) as exc:
            reason = exc.reason if isinstance(exc, ScenevoiceError) else "internal"
            log.error("%s: transcription failed: %s", self.peer, exc or "no answer in time")
            await self._tell(Error(text=str(exc) or "no answer in time", code=reason))
            return
        finally:
            if recording is not None:
                recording.discard()
        heard_s = recording.received_s if recording is not None else 0.0
        log.info("%s: heard %.1f s in %.2f s: %r", self.peer, heard_s, time.perf_counter() - t0, heard.text)
        spoken_in = heard.language or language
        if self.served.streaming:
            await self.write_event(TranscriptStart(language=spoken_in).event())
            if heard.text:
                await self.write_event(TranscriptChunk(text=heard.text).event())
        await self.write_event(Transcript(text=heard.text, language=spoken_in).event())
        if self.served.streaming:
            await self.write_event(TranscriptStop().event())

    # --- speaking -----------------------------------------------------------------------------

    def _stream(self, what: str) -> SentenceStream:
        if self._text is None:
            raise ProtocolError(f"{what} outside a synthesize-start … synthesize-stop stream")
        return self._text

    async def _say(self, texts: list[str], wanted: SynthesizeVoice | None) -> None:
        """Speak each text as one ``audio-start`` … ``audio-stop``; a request the agent
        cannot serve is answered with an ``error`` (the connection stays)."""
        wanted = wanted or self._stream_voice
        for text in texts:
            self.requests += 1
            text = " ".join(text.split())
            why = refuse_voice(self.served.info, wanted)
            if why is None and not text:
                why = "nothing to say: the text is empty"
            if why is None and len(text) > MAX_TEXT_CHARS:
                why = f"a text of {len(text)} characters; send at most {MAX_TEXT_CHARS} at a time"
            if why is not None:
                log.warning("%s: %s", self.peer, why)
                await self._tell(Error(text=why, code="input.bad-request"))
                continue
            t0 = time.perf_counter()
            try:
                language = primary_language(wanted.language) if wanted is not None and wanted.language else None
                said = await self.served.voice.speak(text, language)
            except (ScenevoiceError, TimeoutError) as exc:
                reason = exc.reason if isinstance(exc, ScenevoiceError) else "internal"
                log.error("%s: speaking failed: %s", self.peer, exc or "no answer in time")
                await self._tell(Error(text=str(exc) or "no answer in time", code=reason))
                continue
            log.info(
                "%s: said %r: %.1f s of audio in %.2f s", self.peer, text, said.duration_s, time.perf_counter() - t0
            )
            await self.write_event(AudioStart(rate=said.rate_hz, width=2, channels=1, timestamp=0).event())
            step = SAMPLES_PER_CHUNK * 2
            for at in range(0, len(said.pcm), step):
                chunk = AudioChunk(
                    rate=said.rate_hz,
                    width=2,
                    channels=1,
                    audio=said.pcm[at : at + step],
                    timestamp=at // 2 * 1000 // said.rate_hz,
                )
                await self.write_event(chunk.event())
            await self.write_event(AudioStop(timestamp=round(said.duration_s * 1000)).event())
