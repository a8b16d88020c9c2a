"""The microphone through PortAudio (sounddevice); the speaker is ``playback.py``, both
at once (echo cancelled) ``duplex.py``.

On machines without a sound card, a PulseAudio server with virtual devices stands in
(see ``virtual_devices.py``); the code here is the same either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

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


#: how often a source that keeps delivering unsound samples is logged again (s of audio).
UNSOUND_LOG_EVERY = 60 * RATE_HZ
_unsound: dict[str, int] = {}


def sound_samples(samples: np.ndarray, source: str = "") -> np.ndarray:
    """``samples`` with NaN and infinities as 0 and everything beyond ±1 clipped (a broken
    driver, a device that glitches): what follows — VAD, Whisper, the analyser — then never
    sees them. Logged (a warning per ``UNSOUND_LOG_EVERY`` samples of a source), not raised.
    Returns the same array when it was sound already."""
    finite = np.isfinite(samples)
    if finite.all() and np.abs(samples).max(initial=0.0) <= 1.0:
        return samples
    seen = _unsound.get(source, -1)
    if seen < 0 or seen >= UNSOUND_LOG_EVERY:
        log.warning(
            "audio from %s: %d NaN or infinite and %d clipped samples in a block; taken as 0 and ±1",
            source or "a device",
            int((~finite).sum()),
            int((np.abs(samples[finite]) > 1.0).sum()),
        )
        seen = 0
    _unsound[source] = seen + len(samples)
    return np.clip(np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0), -1.0, 1.0).astype(np.float32)


class Frames:
    """16 kHz frames of ``rates.FRAME_SAMPLES`` samples (32 ms) from blocks a device
    delivers, in order, through an asyncio queue that keeps the newest audio when the
    consumer falls behind (:attr:`overflows` counts the frames dropped)."""

    #: what the device is called (set on opening).
    name = ""

    def __init__(self, max_queued_frames: int = 200) -> None:
        #: (frame, Unix s when the device delivered it) in order.
        self._queue: asyncio.Queue[tuple[np.ndarray, float]] = asyncio.Queue(maxsize=max_queued_frames)
        self._pending = np.zeros(0, np.float32)
        self.overflows = 0
        #: samples cut into frames so far (the first frame is dropped by ``_first``: the
        #: stream's clock starts at sample ``FRAME_SAMPLES``).
        self.samples_cut = 0
        #: given every sample as it is cut (a recording of what was heard), or None.
        self.tap_heard: Callable[[np.ndarray], None] | None = None
        #: Unix s when the device delivered the frame :meth:`frames` yielded last (None
        #: before the first): when it was heard, however far behind the consumer runs.
        self.frame_wall_s: float | None = None

    def _cut(self, samples: np.ndarray, delivered_s: float | None = None) -> None:
        """Samples at 16 kHz (made sound by the source, :func:`sound_samples`), cut into
        frames and queued; ``delivered_s``: Unix s when the device delivered them (default:
        now), each frame's time of hearing."""
        at_s = time.time() if delivered_s is None else delivered_s
        self.samples_cut += len(samples)
        if self.tap_heard is not None:
            self.tap_heard(samples)
        if len(self._pending) == 0 and len(samples) == FRAME_SAMPLES:
            self._push(samples, at_s)
            return
        self._pending = np.concatenate([self._pending, samples])
        while len(self._pending) >= FRAME_SAMPLES:
            self._push(self._pending[:FRAME_SAMPLES].copy(), at_s)
            self._pending = self._pending[FRAME_SAMPLES:]

    def _push(self, frame: np.ndarray, delivered_s: float) -> None:
        if self._queue.full():  # the consumer fell behind: keep the newest audio
            self._queue.get_nowait()
            self.overflows += 1
        self._queue.put_nowait((frame, delivered_s))

    async def _first(self) -> None:
        """Wait for the first frame (and drop it: audio from before the caller was ready
        is not part of the session); without one, close the stream (``__aexit__``).

        Raises:
            DeviceError: none came in ``FIRST_FRAME_TIMEOUT_S``.
        """
        try:
            async with asyncio.timeout(FIRST_FRAME_TIMEOUT_S):
                await self._queue.get()
        except TimeoutError:
            await self.__aexit__()
            raise DeviceError(
                f"microphone {self.name!r} opened but delivered no audio in {FIRST_FRAME_TIMEOUT_S:.0f} s"
            ) from None

    async def __aexit__(self, *exc: object) -> None:
        """Close the stream (each source its own way)."""
        raise NotImplementedError

    async def frames(self) -> AsyncIterator[np.ndarray]:
        """``FRAME_SAMPLES``-sample float32 frames, in order, until the stream ends or stalls.

        Raises:
            DeviceError: nothing came for ``STALL_S`` seconds.
        """
        while True:
            try:
                async with asyncio.timeout(STALL_S):  # not wait_for: it can swallow a cancellation (3.11)
                    frame, self.frame_wall_s = await self._queue.get()
            except TimeoutError:
                raise DeviceError(
                    f"microphone {self.name!r} stopped delivering audio for {STALL_S:.0f} s (device removed?)"
                ) from None
            yield frame


class Microphone(Frames):
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
        super().__init__(max_queued_frames)
        self.device = device
        #: the rate the device is opened at: None asks for 16 kHz and, when the device
        #: refuses it, opens at the device's own rate; either way frames come at 16 kHz.
        self.rate_hz = rate_hz
        self._stream = None
        self._resampler = None

    def _take(self, block: np.ndarray, delivered_s: float) -> None:
        """A block from the device (delivered at Unix s ``delivered_s``): resampled to 16 kHz
        when the device runs at another rate (soxr, streaming: no seams between blocks), then
        cut into frames."""
        block = sound_samples(block, self.name)  # before the resampler's state could keep a NaN
        self._cut(self._resampler.resample_chunk(block) if self._resampler is not None else block, delivered_s)

    async def __aenter__(self) -> Microphone:
        sd = _sounddevice()
        self.name = device_name("input", self.device)
        loop = asyncio.get_running_loop()

        def callback(indata, frames, time_info, status) -> None:
            loop.call_soon_threadsafe(self._take, indata[:, 0].copy(), time.time())

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
        await self._first()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.stop()
                self._stream.close()
            self._stream = None
