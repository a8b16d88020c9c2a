"""The microphone and the speaker as one full-duplex stream, the speaker's echo cancelled.

A live session opens one PortAudio stream with an input and an output: every callback
hands the device the speaker's next block (the reply tracks, silence between them) and
takes the microphone's block. The two therefore share one sample clock, and the echo of
what was played comes back a fixed number of samples later, so the echo canceller's
reference is exact (``echo.py``; 206 ms measured on the virtual devices with a 50 ms
loopback, constant to 0.1 ms over minutes). The stream runs in a process of its own
(``audio_process.py``: the agent's other threads hold the interpreter too long for small
device buffers). Here, on the event loop's thread, both sides are resampled to 16 kHz
(soxr, streaming): the speaker's block into :class:`~modules.voice.io.echo.FarEnd`, the
microphone's through :class:`~modules.voice.io.echo.EchoCanceller`, then cut into 32 ms
frames.

The echo comes a fixed number of samples later only while every callback is on time:
after each one that comes late the sound server plays the rest of the speaker's samples
that much later, and the microphone's do not wait (measured on the virtual devices: each
100 ms late added ~45 ms, for good; 110 → 494 ms over a 5-minute session of
``bench/duplex.py``). Every reply then starts later and every barge-in is heard later
and silences the speaker later. So when the measured delay has grown ``DRIFT_S`` past the
least of the session, at a quiet moment (nothing playing, the microphone quiet for
``IDLE_S``), the stream is restarted (``("restart",)``, ~10–30 ms), which sheds it.

Use ``async with AudioLoop(...) as loop:``, ``loop.playback`` for replies (the API of
:class:`~modules.voice.io.playback.Playback`) and ``async for frame in loop.frames()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import numpy as np
import soxr

from modules.voice.io import audio_process
from modules.voice.io.devices import FIRST_FRAME_TIMEOUT_S, DeviceError, Frames, sound_samples
from modules.voice.io.echo import EchoCanceller, FarEnd
from modules.voice.io.playback import wait_heard
from modules.voice.rates import RATE_HZ

log = logging.getLogger(__name__)

#: how often a track's ``stop`` event is looked at (s): a cut reaches the stream this soon.
STOP_POLL_S = 0.005
#: the echo's delay may grow this much past the least measured in the session before the
#: stream is restarted to shed it (s).
DRIFT_S = 0.05
#: ... at a moment when nothing has played and the microphone has been quiet this long (s):
#: longer than any pause inside a turn (``max_silence_s`` closes one after 1.08 s), so a
#: restart never falls inside what the user is saying,
IDLE_S = 1.5
#: ... below this level (dBFS),
QUIET_DB = -50.0
#: ... and at most this often (s).
RESTART_EVERY_S = 5.0


class RemoteTrack:
    """A reply's audio on the audio process's speaker: the API of
    :class:`~modules.voice.io.playback.Track` (``play``, ``stop``, ``played_s``,
    ``first_sound_unix_s``, ``finished``, ``name``; leaving the ``with`` block waits until
    it has been heard or cut)."""

    def __init__(self, playback: RemotePlayback, key: int, rate_hz: int, stop: threading.Event | None) -> None:
        self.playback = playback
        self.key = key
        self.rate_hz = rate_hz
        self.stop = stop or threading.Event()
        self.played_s = 0.0
        self.first_sound_unix_s: float | None = None
        self.name = playback.name
        self.finished = threading.Event()
        self.stop_sent = False

    def play(self, chunk: np.ndarray, sound: bool = True) -> None:
        if not self.stop.is_set():
            self.playback.send(("play", self.key, np.asarray(chunk, np.float32).tobytes(), sound))

    def close(self) -> None:
        self.playback.send(("close", self.key))

    def __enter__(self) -> RemoteTrack:
        return self

    def __exit__(self, *exc: object) -> None:
        wait_heard(self, exc[0] is not None)


class RemotePlayback:
    """The audio process's speaker, seen from the agent: the API of
    :class:`~modules.voice.io.playback.Playback` that replies and barge-in use."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._send_lock = threading.Lock()
        self._keys = itertools.count(1)
        self.tracks: dict[int, RemoteTrack] = {}
        self.name = ""
        self.rate_hz = 0
        self.latency_s = 0.0
        self.error: str | None = None

    def send(self, message: tuple) -> None:
        try:
            with self._send_lock:
                self._conn.send(message)
        except (OSError, ValueError) as exc:
            self.error = self.error or f"the audio process is gone ({exc})"

    def track(self, rate_hz: int, stop: threading.Event | None = None) -> RemoteTrack:
        track = RemoteTrack(self, next(self._keys), rate_hz, stop)
        self.tracks[track.key] = track
        self.send(("track", track.key, rate_hz))
        return track

    def hold(self) -> None:
        self.send(("hold",))

    def resume(self) -> None:
        self.send(("resume",))

    @property
    def sounding(self) -> bool:
        return any(not t.finished.is_set() for t in list(self.tracks.values()))

    def forward_stops(self) -> None:
        """Send the cut of every track whose ``stop`` was set since."""
        for track in list(self.tracks.values()):
            if track.stop.is_set() and not track.stop_sent:
                track.stop_sent = True
                self.send(("stop", track.key))

    def close(self) -> None:
        for track in list(self.tracks.values()):
            track.finished.set()


class AudioLoop(Frames):
    """One full-duplex stream for a live session (see the module docstring).

    Args:
        input_device, output_device: device names or indices; None for the defaults.
        rate_hz: the stream's rate (both sides); None for 16 kHz, or the output device's
            default where the devices refuse 16 kHz.
        echo_cancel: take the speaker's echo out of the microphone (False: headphones).

    Raises:
        DeviceError: on entry when a device is missing or the stream cannot open; while
            iterating when the microphone stops delivering (``devices.STALL_S``).
        MachineError: on construction with ``echo_cancel`` and no ``pywebrtc-audio``.
    """

    def __init__(
        self,
        input_device: str | int | None = None,
        output_device: str | int | None = None,
        rate_hz: int | None = None,
        echo_cancel: bool = True,
    ) -> None:
        super().__init__()
        self.devices = (input_device, output_device)
        self.rate_hz = rate_hz or 0
        self.far = FarEnd()
        self.canceller = EchoCanceller(self.far) if echo_cancel else None
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.playback: RemotePlayback
        self._mic_16k = self._out_16k = None
        self._closing = threading.Event()
        #: blocks the device lost or got late on either side (heard as gaps).
        self.xruns = 0
        #: times the stream was restarted to shed the latency late blocks added.
        self.restarts = 0
        #: the least echo delay measured in the session (s).
        self.least_delay_s = float("inf")
        self._quiet_s = 0.0  # how long nothing has played and the microphone has been quiet
        self._restarted_at_s = -1e9  # monotonic
        #: samples heard and played so far at 16 kHz (silence between replies included).
        self.samples_heard = self.samples_played = 0
        #: given the microphone's samples (before echo cancellation) and the speaker's, at
        #: 16 kHz, as they arrive, on the pipe's thread (a recording of both sides), or None.
        self.tap_mic: Callable[[np.ndarray], None] | None = None
        self.tap_played: Callable[[np.ndarray], None] | None = None

    def _take(self, heard: np.ndarray, played: np.ndarray, xrun: bool, delivered_s: float) -> None:
        """One callback's blocks at 16 kHz, on the event loop's thread: what was played becomes the
        reference, what was heard (delivered at Unix s ``delivered_s``) is cleaned of it and
        cut into frames. After an ``xrun`` the echo's delay may have moved: it is measured
        afresh."""
        if xrun:
            self.xruns += 1
            if self.canceller is not None:
                self.canceller.delay.unlock()
        self.far.append(played)
        self._cut(self.canceller.process(heard) if self.canceller is not None else heard, delivered_s)
        self._shed_drift(heard, played)

    def _shed_drift(self, heard: np.ndarray, played: np.ndarray) -> None:
        """Restart the stream when the echo's delay has drifted (see the module docstring)."""
        c = self.canceller
        if c is None:  # nothing measures the drift without the echo's delay
            return
        quiet = not np.any(played) and 10 * np.log10(float(np.mean(heard**2)) + 1e-12) < QUIET_DB
        self._quiet_s = self._quiet_s + len(heard) / RATE_HZ if quiet and not self.playback.sounding else 0.0
        if not c.delay.locked:
            return
        self.least_delay_s = min(self.least_delay_s, c.delay.delay_s)
        now = time.monotonic()
        if (
            c.delay.delay_s > self.least_delay_s + DRIFT_S
            and self._quiet_s >= IDLE_S
            and now - self._restarted_at_s >= RESTART_EVERY_S
        ):
            log.info(
                "audio: the echo's delay grew from %.0f to %.0f ms (blocks came late); restarting the stream",
                self.least_delay_s * 1000,
                c.delay.delay_s * 1000,
            )
            self.playback.send(("restart",))
            c.realign(self.least_delay_s)  # where a restart puts it back (measured again at the next reply)
            self._restarted_at_s, self._quiet_s = now, 0.0
            self.restarts += 1

    def _read(self, loop: asyncio.AbstractEventLoop) -> None:
        """The pipe from the audio process, on a thread of its own."""
        assert self._conn is not None
        playback = self.playback
        while True:
            try:
                msg = self._conn.recv()
            except (EOFError, OSError):
                if not self._closing.is_set():
                    playback.error = playback.error or "the audio process ended"
                return
            kind = msg[0]
            if kind == "io":
                heard = sound_samples(np.frombuffer(msg[1], np.float32), self.name)
                played = np.frombuffer(msg[2], np.float32)
                if self._mic_16k is not None and self._out_16k is not None:
                    heard, played = self._mic_16k.resample_chunk(heard), self._out_16k.resample_chunk(played)
                self._record(heard, played)
                loop.call_soon_threadsafe(self._take, heard, played, msg[3], msg[4])
            elif kind == "first" and msg[1] in playback.tracks:
                playback.tracks[msg[1]].first_sound_unix_s = msg[2]
            elif kind == "done" and msg[1] in playback.tracks:
                track = playback.tracks.pop(msg[1])
                track.played_s = msg[2]
                track.finished.set()
            elif kind == "failed":
                playback.error = msg[1]
            elif kind == "alsa":
                log.debug("audio: ALSA says %s", msg[1])  # PortAudio's probing alone makes dozens

    def _record(self, heard: np.ndarray, played: np.ndarray) -> None:
        """Both sides to the recording taps, here on the pipe's thread: a busy event loop
        (it runs behind the device by seconds while a turn is heard) must not hold audio
        that a kill would lose."""
        self.samples_heard += len(heard)
        self.samples_played += len(played)
        tap_mic, tap_played = self.tap_mic, self.tap_played
        if tap_mic is not None:
            tap_mic(heard)
        if tap_played is not None:
            tap_played(played)

    def _pump_stops(self) -> None:
        """Forward cuts while the stream is quiet too (no ``io`` message to ride on)."""
        while not self._closing.wait(STOP_POLL_S):
            self.playback.forward_stops()

    async def __aenter__(self) -> AudioLoop:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._conn = parent
        self.playback = RemotePlayback(parent)
        self._process = context.Process(
            target=audio_process.serve, args=(child, *self.devices, self.rate_hz), name="scenevoice-audio", daemon=True
        )
        self._process.start()
        child.close()
        ready = await asyncio.to_thread(self._ready)
        if ready[0] == "failed":
            await self.__aexit__()
            raise DeviceError(f"cannot open the microphone and the speaker together: {ready[1]}")
        _, self.name, speaker_name, self.rate_hz, latency_s = ready
        self.playback.name, self.playback.rate_hz, self.playback.latency_s = speaker_name, self.rate_hz, latency_s
        if self.rate_hz != RATE_HZ:
            self._mic_16k = soxr.ResampleStream(self.rate_hz, RATE_HZ, 1, dtype="float32")
            self._out_16k = soxr.ResampleStream(self.rate_hz, RATE_HZ, 1, dtype="float32")
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._read, args=(loop,), name="audio-read", daemon=True).start()
        threading.Thread(target=self._pump_stops, name="audio-stops", daemon=True).start()
        await self._first()
        return self

    def _ready(self) -> tuple:
        assert self._conn is not None
        if not self._conn.poll(FIRST_FRAME_TIMEOUT_S):
            return ("failed", f"the audio process did not start in {FIRST_FRAME_TIMEOUT_S:.0f} s")
        try:
            return self._conn.recv()
        except (EOFError, OSError) as exc:
            return ("failed", f"the audio process ended at its start ({exc})")

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._conn is not None:
            self.playback.send(("quit",))
            self.playback.close()
        if self._process is not None:
            await asyncio.to_thread(self._process.join, 5)
            if self._process.is_alive():
                self._process.terminate()
            self._process = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        late = self.xruns - self.restarts  # (each restart marks its next block too)
        if late > 0 or self.restarts:
            log.info(
                "audio: %d blocks came too late or were lost (heard as gaps); the stream restarted %d times to shed "
                "the latency they added",
                late,
                self.restarts,
            )
