"""Microphone and speaker through PortAudio (sounddevice).

On machines without a sound card, a PulseAudio server with virtual devices stands in
(see ``virtual_devices.py``); the code here is the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator

import numpy as np

from agent.errors import MachineError
from modules.voice.rates import FRAME_SAMPLES, RATE_HZ

log = logging.getLogger(__name__)

#: a microphone that delivers nothing for this long is treated as gone.
STALL_S = 3.0
#: the first stream of a process can take up to ~2 s to deliver (AUDIO_RIG.md).
FIRST_FRAME_TIMEOUT_S = 10.0


class DeviceError(MachineError):
    """No usable audio device, or the device went away. The message says which and why.
    A ``RuntimeError`` (through :class:`~agent.errors.MachineError`); reason ``device.missing``."""

    reason = "device.missing"


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # PortAudio's shared library is missing
        raise DeviceError(f"no audio devices: {exc} (install libportaudio2)") from None
    return sounddevice


def device_name(kind: str, device: str | int | None = None) -> str:
    """The name of the input or output device that would be used.

    Raises:
        DeviceError: PortAudio is missing or there is no such device.
    """
    sd = _sounddevice()
    try:
        info = sd.query_devices(device, kind=kind)
    except (sd.PortAudioError, ValueError) as exc:
        what = "microphone (input device)" if kind == "input" else "speaker (output device)"
        raise DeviceError(f"no {what} found: {exc}") from None
    return str(info["name"])


class Microphone:
    """A mono input stream delivering ``rates.FRAME_SAMPLES``-sample (32 ms) float32 frames at
    ``rates.RATE_HZ`` (16 kHz), whatever rate the device itself runs at (resampled by soxr).

    Use ``async with Microphone() as mic: async for frame in mic.frames(): ...``.
    Entering waits for the first frame, so audio played after it is not missed.

    Raises:
        DeviceError: on entry when there is no input device or it cannot open; while
            iterating when the device stops delivering for ``STALL_S`` seconds.
    """

    def __init__(
        self, device: str | int | None = None, max_queued_frames: int = 200, rate_hz: int | None = None
    ) -> None:
        self.device = device
        #: the rate the device is opened at: None asks for 16 kHz and, when the device
        #: refuses it, opens at the device's own rate; either way frames come at 16 kHz.
        self.rate_hz = rate_hz
        self.name = ""
        self._queue: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=max_queued_frames)
        self._stream = None
        self._resampler = None
        self._pending = np.zeros(0, np.float32)
        self.overflows = 0

    def _take(self, block: np.ndarray) -> None:
        """A block from the device: resampled to 16 kHz when the device runs at another rate
        (soxr, streaming: no seams between blocks), then cut into frames."""
        if self._resampler is None:
            self._push(block)
            return
        self._pending = np.concatenate([self._pending, self._resampler.resample_chunk(block)])
        while len(self._pending) >= FRAME_SAMPLES:
            self._push(self._pending[:FRAME_SAMPLES].copy())
            self._pending = self._pending[FRAME_SAMPLES:]

    def _push(self, frame: np.ndarray) -> None:
        if self._queue.full():  # the consumer fell behind: keep the newest audio
            self._queue.get_nowait()
            self.overflows += 1
        self._queue.put_nowait(frame)

    async def __aenter__(self) -> Microphone:
        sd = _sounddevice()
        self.name = device_name("input", self.device)
        loop = asyncio.get_running_loop()

        def callback(indata, frames, time_info, status) -> None:
            loop.call_soon_threadsafe(self._take, indata[:, 0].copy())

        def open_at(rate: int) -> None:
            self._stream = sd.InputStream(
                samplerate=rate,
                channels=1,
                dtype="float32",
                blocksize=round(FRAME_SAMPLES * rate / RATE_HZ),
                device=self.device,
                callback=callback,
            )
            self._stream.start()

        rate = self.rate_hz or RATE_HZ
        try:
            try:
                open_at(rate)
            except sd.PortAudioError:
                if self.rate_hz:  # the rate was asked for: no other
                    raise
                # Many USB and built-in devices run at 44.1 or 48 kHz only.
                rate = int(sd.query_devices(self.device, "input")["default_samplerate"])
                log.info("microphone %s refuses %d Hz; opening it at %d Hz and resampling", self.name, RATE_HZ, rate)
                open_at(rate)
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open microphone {self.name!r}: {exc}") from None
        self.rate_hz = rate
        if rate != RATE_HZ:
            import soxr

            self._resampler = soxr.ResampleStream(rate, RATE_HZ, 1, dtype="float32")
        try:
            first = await asyncio.wait_for(self._queue.get(), FIRST_FRAME_TIMEOUT_S)
        except TimeoutError:
            await self.__aexit__()
            raise DeviceError(
                f"microphone {self.name!r} opened but delivered no audio in {FIRST_FRAME_TIMEOUT_S:.0f} s"
            ) from None
        del first  # audio from before the caller was ready is not part of the session
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.stop()
                self._stream.close()
            self._stream = None

    async def frames(self) -> AsyncIterator[np.ndarray]:
        """``FRAME_SAMPLES``-sample float32 frames, in order, until the stream ends or stalls."""
        while True:
            try:
                frame = await asyncio.wait_for(self._queue.get(), STALL_S)
            except TimeoutError:
                raise DeviceError(
                    f"microphone {self.name!r} stopped delivering audio for {STALL_S:.0f} s (device removed?)"
                ) from None
            yield frame


class Speaker:
    """Plays mono float32 chunks in order from a background thread, so the caller can
    synthesise the next sentence while this one plays.

    Use ``with Speaker(rate_hz) as speaker: speaker.play(chunk) ...``; leaving the block
    waits until everything queued has been heard.

    Raises:
        DeviceError: on entry when there is no output device or it cannot open; on exit
            when the device failed while playing.
    """

    #: chunks are played in blocks of this length, so a cut takes effect within one block.
    BLOCK_S = 0.05

    def __init__(self, rate_hz: int, device: str | int | None = None, stop: threading.Event | None = None) -> None:
        self.rate_hz = rate_hz
        self.device = device
        #: once set, whatever is still queued is dropped: the reply is cut short.
        self.stop = stop or threading.Event()
        #: seconds of audio handed to the device so far.
        self.played_s = 0.0
        #: when the first block of sound (not of the lead silence) was handed to the device
        #: (unix seconds), or None; :meth:`play` with ``sound=False`` queues silence.
        self.first_sound_unix_s: float | None = None
        self._queue: queue.Queue[tuple[np.ndarray, bool] | None] = queue.Queue()
        self._stream = None
        self._thread: threading.Thread | None = None
        self._error: Exception | None = None
        #: the output device's name, once entered.
        self.name = ""

    def __enter__(self) -> Speaker:
        sd = _sounddevice()
        self.name = name = device_name("output", self.device)
        try:
            # "low": the device's low-latency buffer — the first sample of a reply is heard
            # tens of milliseconds sooner than with PortAudio's default (high) latency.
            self._stream = sd.OutputStream(
                samplerate=self.rate_hz, channels=1, dtype="float32", device=self.device, latency="low"
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open speaker {name!r}: {exc}") from None
        self._thread = threading.Thread(target=self._run, name="speaker", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        block = max(1, int(self.BLOCK_S * self.rate_hz))
        while (item := self._queue.get()) is not None:
            chunk, sound = item
            for start in range(0, len(chunk), block):
                if self._error is not None or self.stop.is_set():
                    break
                part = chunk[start : start + block]
                try:
                    self._stream.write(np.ascontiguousarray(part, np.float32).reshape(-1, 1))
                except Exception as exc:  # the device vanished mid-sentence
                    self._error = exc
                else:
                    self.played_s += len(part) / self.rate_hz
                    if sound and self.first_sound_unix_s is None:
                        self.first_sound_unix_s = time.time()

    def play(self, chunk: np.ndarray, sound: bool = True) -> None:
        """Queue a chunk (mono float32 at ``rate_hz``); returns at once. Dropped once
        :attr:`stop` is set. ``sound`` = False: silence (not the first sound)."""
        self._queue.put((chunk, sound))

    def __exit__(self, *exc: object) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join()
        with contextlib.suppress(Exception):
            if self.stop.is_set():
                self._stream.abort()  # cut: what the device still holds is dropped too
            else:
                self._stream.stop()  # waits until the queued audio has been played
            self._stream.close()
        if self._error is not None and exc[0] is None:
            raise DeviceError(f"playback failed: {self._error}")
