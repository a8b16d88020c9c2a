"""The speaker as one stream that never stops: replies are tracks queued on it.

:class:`Playback` fills the output device's blocks, playing silence between replies, so a
reply's first sample is heard one device buffer after it is queued. It runs its own output
stream (a reply outside a live session: :func:`speaker`), or the full-duplex stream of a
live session fills its blocks (``duplex.py``), which also hands every block to the echo
canceller as its reference. A reply is a :class:`Track`: chunks at the engine's rate,
resampled (soxr) and heard in order while the next sentence renders. :meth:`Playback.hold`
silences it with a ``FADE_S`` ramp (a barge-in that may still turn out to be a
backchannel) and :meth:`Playback.resume` goes on where it stopped; a track's ``stop``
event cuts it (ramped too) and drops the rest.

Use ``with Playback(device) as playback: with playback.track(22050) as track: track.play(x)``;
leaving the track's block waits until it has been heard (or cut). A stand-alone reply (no
live session) opens a playback of its own for the one track (:func:`speaker`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import soxr

from modules.voice.io.devices import DeviceError, _sounddevice, device_name

if TYPE_CHECKING:
    from modules.voice.io.duplex import RemoteTrack

log = logging.getLogger(__name__)

#: the length of the ramp that silences or restores the speaker (no click) (s).
FADE_S = 0.01
#: the device is asked for blocks of this length (s); a hold or a cut starts within one.
BLOCK_S = 0.02
#: the device's buffer (s): what is handed over is heard this much later. PortAudio's "low"
#: (8.7 ms on PulseAudio) starved whenever the agent's other threads held the interpreter
#: (each starved block is an audible gap); a hold or a cut is heard one buffer later, so it
#: stays short.
LATENCY_S = 0.08


class Track:
    """One reply's audio (see the module docstring). ``play`` returns at once.

    Attributes:
        stop: once set, the rest of the track is dropped (after a ``FADE_S`` ramp).
        played_s: seconds of the track handed to the device so far (lead silence included).
        first_sound_unix_s: when the first chunk queued with ``sound`` = True began to be
            handed to the device (unix s), or None.
        name: the output device's name.
    """

    def __init__(self, playback: Playback, rate_hz: int, stop: threading.Event | None) -> None:
        self.playback = playback
        self.rate_hz = rate_hz
        self.stop = stop or threading.Event()
        self.played_s = 0.0
        self.first_sound_unix_s: float | None = None
        self.name = playback.name
        self._chunks: deque[tuple[np.ndarray, bool]] = deque()  # at the playback's rate
        self._offset = 0  # samples of the first chunk already handed over
        self._closed = False  # no more chunks will come
        self.finished = threading.Event()  # heard to its end, or cut

    def play(self, chunk: np.ndarray, sound: bool = True) -> None:
        """Queue ``chunk`` (mono float32 at ``rate_hz``). ``sound`` = False: silence that
        does not count as the first sound. Dropped once :attr:`stop` is set."""
        if self.stop.is_set():
            return
        samples = np.asarray(chunk, np.float32)
        if self.rate_hz != self.playback.rate_hz:
            samples = soxr.resample(samples, self.rate_hz, self.playback.rate_hz, quality="HQ").astype(np.float32)
        with self.playback.lock:
            self._chunks.append((samples, sound))

    def close(self) -> None:
        """No more chunks: the track ends when what is queued has been heard."""
        with self.playback.lock:
            self._closed = True

    def _take(self, n: int) -> tuple[np.ndarray, bool]:
        """Up to ``n`` samples from the front (called under the playback's lock); whether
        any of them is sound."""
        parts, sound, got = [], False, 0
        while got < n and self._chunks:
            chunk, is_sound = self._chunks[0]
            part = chunk[self._offset : self._offset + n - got]
            parts.append(part)
            got += len(part)
            sound = sound or is_sound
            self._offset += len(part)
            if self._offset >= len(chunk):
                self._chunks.popleft()
                self._offset = 0
        if sound and self.first_sound_unix_s is None:
            self.first_sound_unix_s = time.time()
        self.played_s += got / self.playback.rate_hz
        return (np.concatenate(parts) if parts else np.zeros(0, np.float32)), sound

    @property
    def _drained(self) -> bool:
        return self._closed and not self._chunks

    def __enter__(self) -> Track:
        return self

    def __exit__(self, *exc: object) -> None:
        """Wait until the track has been heard to its end (or cut) and the device's buffer
        has played it out.

        Raises:
            DeviceError: the device failed while playing (and no other error is raised).
        """
        wait_heard(self, exc[0] is not None)


def wait_heard(track: Track | RemoteTrack, failing: bool = False) -> None:
    """Close ``track`` and wait until it has been heard to its end (or cut) and the
    device's buffer has played it out (a track's ``__exit__``).

    Raises:
        DeviceError: the device failed while playing (unless ``failing``: an error is
            already on its way).
    """
    track.close()
    while not track.finished.wait(0.05):
        if track.playback.error is not None:
            break
    if track.playback.error is not None and not failing:
        raise DeviceError(f"playback failed: {track.playback.error}")
    if not track.stop.is_set():
        time.sleep(track.playback.latency_s)  # the device's buffer plays out


class Playback:
    """The output device's blocks, filled from the tracks (see the module docstring).

    ``with Playback(...)`` opens an output stream of its own; a duplex stream instead calls
    :meth:`attach`, then :meth:`fill` for each block.

    Args:
        device: a device name or index; None for the default.
        rate_hz: the stream's rate; None for the device's own default rate.

    Raises:
        DeviceError: on entry when there is no output device or it cannot open.
    """

    def __init__(self, device: str | int | None = None, rate_hz: int | None = None) -> None:
        self.device = device
        self.rate_hz = rate_hz or 0
        self.name = ""
        self.lock = threading.Lock()
        #: the stream's output latency (s), once entered.
        self.latency_s = 0.0
        #: what made the stream stop (the device vanished), or None.
        self.error: str | None = None
        #: blocks the device asked for before they were ready (audible gaps).
        self.underflows = 0
        self._tracks: deque[Track] = deque()
        self._held = False
        self._gain = 1.0
        self._stream = None

    def attach(self, name: str, rate_hz: int, latency_s: float) -> None:
        """A stream opened elsewhere plays these tracks: its device's name, rate and latency."""
        self.name, self.rate_hz, self.latency_s = name, rate_hz, latency_s

    # --- control ------------------------------------------------------------------------------

    def track(self, rate_hz: int, stop: threading.Event | None = None) -> Track:
        """A new track at ``rate_hz``, heard after the tracks before it."""
        track = Track(self, rate_hz, stop)
        with self.lock:
            self._tracks.append(track)
        return track

    def hold(self) -> None:
        """Silence the speaker (ramped) without losing the place: :meth:`resume` goes on."""
        with self.lock:
            self._held = True

    def resume(self) -> None:
        """Undo :meth:`hold`."""
        with self.lock:
            self._held = False

    def forward_stops(self) -> None:
        """Nothing to forward: a track's ``stop`` is read by :meth:`fill` itself (the API of
        :class:`~modules.voice.io.duplex.RemotePlayback`, whose process needs telling)."""

    @property
    def sounding(self) -> bool:
        """True while a track is queued or playing (its audio may be heard)."""
        with self.lock:
            return any(not t.finished.is_set() for t in self._tracks)

    # --- the stream ---------------------------------------------------------------------------

    def fill(self, n: int) -> np.ndarray:
        """The next ``n`` samples for the device (float32, silence when nothing plays)."""
        with self.lock:
            return self._fill(n)

    def _fill(self, n: int) -> np.ndarray:
        out = np.zeros(n, np.float32)
        pos = 0
        step = 1.0 / max(1, round(FADE_S * self.rate_hz))
        while pos < n and self._tracks:
            track = self._tracks[0]
            cut = track.stop.is_set()
            target = 0.0 if (cut or self._held) else 1.0
            if self._gain <= 0.0 and target == 0.0:
                if cut:  # silent already: drop the rest
                    self._drop(track)
                    continue
                break  # held: silence, the place kept
            if track._drained:
                self._drop(track)
                continue
            samples, _ = track._take(n - pos)
            if len(samples) == 0:
                break  # the next sentence is still being rendered
            direction = 1.0 if target > self._gain else -1.0 if target < self._gain else 0.0
            gains = np.clip(self._gain + direction * step * np.arange(1, len(samples) + 1), 0.0, 1.0)
            out[pos : pos + len(samples)] = samples * gains
            self._gain = float(gains[-1])
            pos += len(samples)
        if not self._tracks or (self._tracks and self._tracks[0].finished.is_set()):
            self._gain = 0.0 if self._held else 1.0
        return out

    def _drop(self, track: Track) -> None:
        track._chunks.clear()
        track.finished.set()
        self._tracks.popleft()

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status.output_underflow:
            self.underflows += 1
        outdata[:, 0] = self.fill(frames)

    def _finished(self) -> None:
        if self.error is None and self._stream is not None:
            self.error = "the output stream stopped (device removed?)"

    def __enter__(self) -> Playback:
        sd = _sounddevice()
        self.name = name = device_name("output", self.device)
        try:
            if not self.rate_hz:
                self.rate_hz = int(sd.query_devices(self.device, "output")["default_samplerate"])
            self._stream = sd.OutputStream(
                samplerate=self.rate_hz,
                channels=1,
                dtype="float32",
                device=self.device,
                blocksize=round(BLOCK_S * self.rate_hz),
                latency=LATENCY_S,
                callback=self._callback,
                finished_callback=self._finished,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"cannot open speaker {name!r}: {exc}") from None
        self.latency_s = float(self._stream.latency)
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            raise DeviceError(f"cannot start speaker {name!r}: {exc}") from None
        return self

    def close(self) -> None:
        """Nothing more will play: every track still queued counts as finished."""
        with self.lock:
            for track in self._tracks:
                track.finished.set()
            self._tracks.clear()

    def __exit__(self, *exc: object) -> None:
        if self.underflows:
            log.info("speaker %s: %d blocks came too late for the device (heard as gaps)", self.name, self.underflows)
        stream, self._stream = self._stream, None
        self.close()
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.stop()
                stream.close()


@contextlib.contextmanager
def speaker(rate_hz: int, device: str | int | None = None, stop: threading.Event | None = None) -> Iterator[Track]:
    """One track on a playback of its own (a reply outside a live session): the device is
    opened at ``rate_hz`` and closed once the track has been heard.

    Raises:
        DeviceError: no speaker, or it failed while playing.
    """
    with Playback(device, rate_hz) as playback, playback.track(rate_hz, stop) as track:
        yield track
