"""A capture stream and a playback stream paired block by block: what the full-duplex loop
gets from one PortAudio duplex stream, without the duplex stream.

Through PulseAudio's ALSA plug-in (the way PortAudio reaches a desktop's sound server), a
*duplex* stream with fixed blocks spun one core at 100 % after its first underrun and fell
behind the clock: 0.76× real time over 10 s on the virtual devices, so the microphone's
latency grew all session (the echo's delay 110 → 494 ms over 5 minutes) until blocks were
lost. Separate streams on the same devices, at the same settings: 9 % of a core together,
0.95× over the same 10 s (the start's buffering; ``bench/stream_cpu.py``).

The pairing: each playback callback appends what it played to a queue; each capture
callback takes as many samples from its head as it heard, so a heard sample and the played
sample it is paired with keep one distance for as long as both streams keep time. The
queue holds at most ``MAX_AHEAD_BLOCKS`` blocks (playback runs ahead as it primes its
buffer): the oldest are dropped, the queue short is padded with silence, and either makes
the block an xrun, for the echo canceller to measure its delay again.

Only numpy and the ``sounddevice`` module given are used (the audio process stays light).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

#: played samples the queue may hold beyond what the next capture block takes (blocks).
MAX_AHEAD_BLOCKS = 2


class PlayedQueue:
    """What the speaker was given, for the microphone's blocks to take in order (float32,
    mono, at the streams' rate). Thread-safe: one writer (playback), one reader (capture)."""

    def __init__(self, block: int) -> None:
        self.block = block
        self._parts: list[np.ndarray] = []
        self._lock = threading.Lock()

    def put(self, played: np.ndarray) -> None:
        with self._lock:
            self._parts.append(np.array(played, np.float32, copy=True))

    def clear(self) -> None:
        with self._lock:
            self._parts = []

    def take(self, n: int) -> tuple[np.ndarray, bool]:
        """The next ``n`` played samples and whether the pairing slipped (samples dropped
        because playback ran more than ``MAX_AHEAD_BLOCKS`` blocks ahead, or silence padded
        because it fell behind)."""
        with self._lock:
            joined = np.concatenate(self._parts) if self._parts else np.zeros(0, np.float32)
            excess = len(joined) - n - MAX_AHEAD_BLOCKS * self.block
            slipped = excess > 0
            if slipped:
                joined = joined[excess:]
            out, rest = joined[:n], joined[n:]
            self._parts = [rest] if len(rest) else []
        if len(out) < n:
            out = np.concatenate([out, np.zeros(n - len(out), np.float32)])
            slipped = True
        return out, slipped


class StreamPair:
    """A capture and a playback stream on two devices that behave as one duplex stream:
    ``on_block(heard, played, xrun)`` is called from the capture thread for every captured
    block, with the played samples paired to it (both float32 mono, the same length).

    Args:
        sd: the ``sounddevice`` module.
        fill: ``fill(n) -> float32[n]``, what the speaker plays next (called on the
            playback thread).
        finished: called when either stream stops (an abort asked for, or a device gone).

    Raises:
        sounddevice.PortAudioError: a device or rate refused (neither stream is left open).
    """

    def __init__(
        self,
        sd: Any,
        input_device: str | int | None,
        output_device: str | int | None,
        rate_hz: int,
        block: int,
        latency_s: float,
        fill: Callable[[int], np.ndarray],
        on_block: Callable[[np.ndarray, np.ndarray, bool], None],
        finished: Callable[[], None],
    ) -> None:
        self.played = PlayedQueue(block)
        self._late = threading.Event()  # playback underflowed since the last capture block

        def play(outdata, frames, _time, status) -> None:
            out = fill(frames)
            outdata[:, 0] = out
            if status.output_underflow:
                self._late.set()
            self.played.put(out)

        def hear(indata, frames, _time, status) -> None:
            played, slipped = self.played.take(frames)
            xrun = slipped or bool(status.input_overflow) or self._late.is_set()
            self._late.clear()
            on_block(indata[:, 0], played, xrun)

        common = dict(samplerate=rate_hz, blocksize=block, channels=1, dtype="float32", latency=latency_s)
        self._output = sd.OutputStream(device=output_device, callback=play, finished_callback=finished, **common)
        try:
            self._input = sd.InputStream(device=input_device, callback=hear, finished_callback=finished, **common)
        except Exception:
            self._output.close()
            raise

    #: how many times ``finished`` is called for one abort.
    STREAMS = 2

    @property
    def latency(self) -> tuple[float, float]:
        """(input, output) latency as the devices report it (s)."""
        return float(self._input.latency), float(self._output.latency)

    def start(self) -> None:
        self.played.clear()
        self._output.start()
        self._input.start()

    def abort(self) -> None:
        self._input.abort()
        self._output.abort()

    def stop(self) -> None:
        self._input.stop()
        self._output.stop()

    def close(self) -> None:
        self._input.close()
        self._output.close()
