"""The agent's ears and voice for Wyoming clients, over one running session.

Hearing is a ``listen.turn`` request for a WAV file, answered by a ``turn`` scene (its
``text`` is the transcript) or an ``error``; speaking is a ``reply`` scene, answered by
``spoken`` once the speaking module has written the reply's WAV. The speaking module
writes every reply to one file (the session's ``output``), so replies are asked one at a
time; transcriptions too, since the module hears one file at a time anyway. The client
connections stay concurrent: only their turns at the agent queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from agent.errors import InternalError, ScenevoiceError
from agent.parts import Request
from agent.scene import Scene
from agent.session import Session

log = logging.getLogger("scenevoice.wyoming")

#: the longest one request may take the agent (s): ten minutes of audio on a slow CPU.
REQUEST_TIMEOUT_S = 900.0
#: what the server says and hears back when it starts, so both engines are loaded before
#: the first client asks.
WARM_UP_TEXT = "The kitchen is ready."


@dataclass(frozen=True)
class Heard:
    """A transcript: ``text`` ("" when there was no speech), ``language`` (ISO 639-1, if
    the recogniser said)."""

    text: str
    language: str | None = None


@dataclass(frozen=True)
class Said:
    """A reply's audio: 16-bit mono PCM (little-endian) at ``rate_hz``."""

    pcm: bytes
    rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.rate_hz


def _problem(scene: Scene) -> ScenevoiceError:
    """The error an ``error`` scene reports, as an exception with the same reason."""
    if scene.error is None:
        return InternalError("an error scene without its error part")
    return ScenevoiceError(scene.error.message, reason=scene.error.reason, subject=scene.error.subject)


def read_said(path: Path) -> Said:
    """The 16-bit mono WAV ``path`` as :class:`Said`.

    Raises:
        InternalError: it is not 16-bit mono PCM (the speaking module writes that).
        OSError, wave.Error: it cannot be read.
    """
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise InternalError(
                f"{path}: a reply of {wav.getnchannels()} channel(s), {wav.getsampwidth()} bytes; expected 16-bit mono"
            )
        return Said(wav.readframes(wav.getnframes()), wav.getframerate())


class AgentVoice:
    """Ask a running session to hear a WAV or to speak text.

    Args:
        session: started, with a module that serves ``listen.turn`` and ``reply``.
        scratch: a folder for the warm-up's WAV.
    """

    def __init__(self, session: Session, scratch: Path) -> None:
        self.session = session
        self.scratch = scratch
        self._hearing = asyncio.Lock()
        self._speaking = asyncio.Lock()

    async def hear(self, wav: Path) -> Heard:
        """The transcript of the WAV file ``wav`` (any rate the agent reads).

        Silence, or a sound without words, is an empty transcript.

        Raises:
            ScenevoiceError: the agent reported an error (its reason kept: ``input.unreadable``,
                ``model.missing``, ``module.missing``…).
            TimeoutError: no answer within :data:`REQUEST_TIMEOUT_S`.
        """
        request = Scene(channel="voice", kind="listen.turn", request=Request(path=str(wav)), source="wyoming")
        async with self._hearing:
            lineage = self.session.request(request, lambda s: s.kind in ("turn", "error"), REQUEST_TIMEOUT_S)
            async with contextlib.aclosing(lineage) as scenes:
                async for scene in scenes:
                    if scene.kind == "turn":
                        return Heard((scene.text or "").strip(), scene.language)
                    if scene.kind == "error":
                        if scene.error is not None and scene.error.reason == "input.no-speech":
                            return Heard("")
                        raise _problem(scene)
        raise InternalError("the request's lineage ended without a turn or an error")

    async def speak(self, text: str, language: str | None = None) -> Said:
        """``text`` in the agent's voice, planned by the speaking module for its own voice.

        Raises:
            ScenevoiceError: the agent reported an error (``model.missing`` for a voice not
                installed, ``output.unwritable``…).
            TimeoutError: no answer within :data:`REQUEST_TIMEOUT_S`.
        """
        reply = Scene(channel="voice", kind="reply", text=text, language=language, source="wyoming")
        async with self._speaking:  # one output file: the next reply waits until this one is read
            lineage = self.session.request(reply, lambda s: s.kind in ("spoken", "error"), REQUEST_TIMEOUT_S)
            async with contextlib.aclosing(lineage) as scenes:
                async for scene in scenes:
                    if scene.kind == "error":
                        raise _problem(scene)
                    if scene.kind == "spoken":
                        if scene.result is None or scene.result.path is None:
                            raise InternalError("the reply was spoken, but not into a file")
                        return await asyncio.to_thread(read_said, Path(scene.result.path))
        raise InternalError("the reply's lineage ended without a spoken scene or an error")

    async def warm_up(self) -> None:
        """Say :data:`WARM_UP_TEXT` and hear it back, so the synthesiser and the recogniser
        are loaded before a client waits on them. A failure is logged, not raised: each
        request then reports it to its client."""
        t0 = time.perf_counter()
        try:
            said = await self.speak(WARM_UP_TEXT)
            wav = self.scratch / "warm-up.wav"
            with wave.open(str(wav), "wb") as out:
                out.setframerate(said.rate_hz)
                out.setsampwidth(2)
                out.setnchannels(1)
                out.writeframes(said.pcm)
            heard = await self.hear(wav)
            wav.unlink(missing_ok=True)
        except (ScenevoiceError, TimeoutError, OSError, wave.Error) as exc:
            log.warning("warm-up failed (requests will report it): %s", exc)
            return
        log.info("warm-up: said %r and heard %r in %.1f s", WARM_UP_TEXT, heard.text, time.perf_counter() - t0)
