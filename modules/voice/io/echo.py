"""What the speaker played, and taking it back out of what the microphone hears.

A loudspeaker's sound comes back through the microphone. In a full-duplex stream
(``duplex.py``) every callback hands PortAudio a block for the speaker and takes a block
from the microphone, so both sides share one sample clock: :class:`FarEnd` keeps what the
speaker was given (at 16 kHz, by sample count) and :class:`EchoCanceller` runs WebRTC's
AEC3 (the ``pywebrtc-audio`` wheel) on the microphone's 16 kHz stream with the far end of
the same moments as its reference, so the agent neither hears itself as a user nor is
interrupted by its own voice. ``bench/echo_cancel.py`` measured the candidates on the
virtual devices of ``../shared/AUDIO_RIG.md`` and chose this one (``docs/benchmarks.md``).

The echo comes back a fixed number of samples later: the two device buffers plus the room
(206 ms measured on the virtual devices with a 50 ms loopback, constant to 0.1 ms over
minutes, also while other threads held the interpreter). That is more than AEC3 finds by
itself, so :class:`DelayEstimator` measures it from the signals (cross-correlation over the
last ``WINDOW_S`` while the speaker plays, every ``ESTIMATE_EVERY_S``; a phase transform,
GCC-PHAT, found nothing on these band-limited signals) and the reference is read that
much earlier, less ``LEAD_S``: a reference must lead its echo, one that came *after* it
could not be cancelled. (Two streams opened apart, each stamped by PortAudio's clock,
drifted 0.6 % against each other and by hundreds of ms at each starved block: why the
speaker and the microphone are one stream.)
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from modules.voice.rates import RATE_HZ

log = logging.getLogger(__name__)

#: the canceller works in 10 ms chunks at 16 kHz.
CHUNK_SAMPLES = RATE_HZ // 100
#: the reference is read this much before the echo's measured delay (s).
LEAD_S = 0.02
#: the echo's delay is looked for up to this long (s).
MAX_DELAY_S = 1.2
#: a peak within this of ``MAX_DELAY_S`` is the search's edge (measured: 1197–1200 ms
#: "delays" between two replies, each gone 0.5 s later), not an echo (s).
EDGE_S = 0.02
#: an echo at a delay correlates with the reference lined up at it (the normalised
#: correlation of the microphone's window with it) at least this much. A reply's last
#: 0.05–0.3 s at the start of the reference against a user who speaks ~1 s after it peak
#: 30–130 times over the mean of the lags at 1.05–1.2 s (most lags see no sound) with a
#: correlation of |0.07| or less; real echoes 0.12–1.0 with the user talking over them
#: 6 dB louder (``tests/test_duplex.py``). One run of ``bench/live_latency.py`` locked
#: such a "delay" (1167 ms), and the canceller then took from the user's voice.
MIN_ECHO_CORRELATION = 0.1
#: the stretch of microphone and speaker the delay is measured over (s), and how often.
WINDOW_S, ESTIMATE_EVERY_S = 2.0, 0.5
#: a cross-correlation peak at least this many times the mean of its lags is a delay; weaker
#: is noise or the user's voice (measured on the virtual devices: echoes 44–116, others ≤ 29).
PEAK_RATIO = 30.0

#: the speaker is taken to play when the reference's level over the window reaches this (dBFS).
ACTIVE_DB = -50.0
#: a far end below this (|sample|, about −80 dBFS) over the echo's longest way back played nothing.
QUIET_FAR = 1e-4
#: the stretch of what the canceller let through that the residual-echo guard looks at (s).
GUARD_WINDOW_S = 1.0
#: a microphone below this level (dBFS) while the speaker plays hears no user over it.
QUIET_NEAR_DB = -45.0
#: measurements in a row with the speaker playing, the microphone quiet and no echo in it
#: after which the speaker's sound does not reach the microphone (a headset, a speaker in
#: another room): 3 measurements, 1.5 s — the start tone alone gives them.
UNHEARD_AFTER = 3


class FarEnd:
    """The speaker's output at 16 kHz, by sample count, the last ``capacity_s`` of it.

    Thread-safe: the audio callback's side writes, the microphone's side reads.
    """

    def __init__(self, capacity_s: float = 4.0) -> None:
        self._ring = np.zeros(int(capacity_s * RATE_HZ), np.float32)
        self._lock = threading.Lock()
        self._end = 0  # index after the last sample written
        #: the index after the last block that held a sample above ``QUIET_FAR`` (none yet: far below 0).
        self.loud_end = -(10**12)

    def append(self, samples: np.ndarray) -> None:
        """Samples (16 kHz mono float32) the speaker was given, after the ones before."""
        n = len(samples)
        if n == 0:
            return
        size = len(self._ring)
        with self._lock:
            keep = samples[-size:]
            at = (self._end + n - len(keep)) % size
            first = min(len(keep), size - at)
            self._ring[at : at + first] = keep[:first]
            self._ring[: len(keep) - first] = keep[first:]
            self._end += n
            if np.any(np.abs(keep) > QUIET_FAR):
                self.loud_end = self._end

    def read(self, start: int, n: int) -> np.ndarray:
        """``n`` samples from index ``start`` (the count of samples given before them);
        zeros where nothing was (before the first, after the last, or too long ago)."""
        out = np.zeros(n, np.float32)
        size = len(self._ring)
        with self._lock:
            lo, hi = max(start, self._end - size, 0), min(start + n, self._end)
            if hi > lo:
                at, m = lo % size, hi - lo
                first = min(m, size - at)
                out[lo - start : lo - start + first] = self._ring[at : at + first]
                out[lo - start + first : hi - start] = self._ring[: m - first]
        return out


class _Recent:
    """The last ``n`` samples of a stream; any tail of them is one contiguous view (each
    sample is kept twice, ``n`` apart: no copy of the whole per block)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._buf = np.zeros(2 * n, np.float32)
        self._at = 0  # where the next sample goes, in [0, n)

    def push(self, samples: np.ndarray) -> None:
        keep = samples[-self.n :]
        first = min(len(keep), self.n - self._at)
        for base in (0, self.n):
            self._buf[base + self._at : base + self._at + first] = keep[:first]
            self._buf[base : base + len(keep) - first] = keep[first:]
        self._at = (self._at + len(keep)) % self.n

    def last(self, m: int) -> np.ndarray:
        """The newest ``m`` ≤ ``n`` samples, oldest first (a view: read it before the next push)."""
        end = self._at + self.n
        return self._buf[end - m : end]


def _fast_len(n: int) -> int:
    """The least 2^a·3^b·5^c ≥ ``n``: sizes numpy's FFT transforms fast (a power of two
    alone is up to twice as long)."""
    best = 1 << max(0, n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def correlate_peak(near: np.ndarray, far: np.ndarray) -> tuple[float, float]:
    """Where ``near`` best matches inside ``far`` (which spans ``MAX_DELAY_S`` before
    ``near`` to its end): the delay of ``near`` after ``far`` (s) and the peak's height over
    the mean of all lags (``PEAK_RATIO`` or more: an echo)."""
    n = _fast_len(len(near) + len(far) - 1)
    spectrum = np.conj(np.fft.rfft(near, n)) * np.fft.rfft(far, n)
    lags = np.abs(np.fft.irfft(spectrum, n)[: len(far) - len(near) + 1])
    k = int(np.argmax(lags))
    delay_s = (len(far) - len(near) - k) / RATE_HZ
    return delay_s, float(lags[k] / (np.mean(lags) + 1e-20))


def active(far: np.ndarray) -> bool:
    """True when the speaker played something over ``far`` (level ≥ ``ACTIVE_DB``)."""
    return bool(10 * np.log10(np.mean(far**2) + 1e-12) >= ACTIVE_DB)


class DelayEstimator:
    """The delay of the echo after its reference (s), measured by cross-correlation.

    :meth:`measure` takes a stretch of microphone and the reference over the same moments
    and the ``MAX_DELAY_S`` before; a clear peak (``PEAK_RATIO``)
    is an echo. Two measurements in a row that agree within 10 ms move :attr:`delay_s`
    (one stretch of double talk, or a phrase the agent said twice, does not throw the
    alignment away).
    """

    def __init__(self) -> None:
        self.delay_s = 0.0
        #: a delay has been measured and nothing since may have moved it.
        self.locked = False
        self._candidate_s: float | None = None
        #: measurements in a row that heard the speaker play into a quiet microphone, no echo.
        self._unheard = 0

    @property
    def absent(self) -> bool:
        """True while the speaker's sound is known not to come back: no echo was ever
        found, and the last ``UNHEARD_AFTER`` measurements found none in a quiet
        microphone while the speaker played. Whatever the microphone hears then is not the
        agent's own voice."""
        return not self.locked and self._unheard >= UNHEARD_AFTER

    def unlock(self) -> None:
        """The delay may have moved (the stream lost a block): until it is measured again
        :attr:`locked` is False (the last delay is still used)."""
        self.locked, self._candidate_s = False, None

    def measure(self, near: np.ndarray, far: np.ndarray) -> float | None:
        """The delay that best explains ``near`` as an echo of ``far`` (see
        :func:`correlate_peak`), or None when the speaker was silent or no peak is clear.
        Updates :attr:`delay_s` as the class docstring says."""
        if not active(far):
            return None
        quiet = not np.any(near) or 10 * np.log10(np.mean(near**2) + 1e-12) < QUIET_NEAR_DB
        found, ratio = correlate_peak(near, far) if np.any(near) else (0.0, 0.0)
        if ratio < PEAK_RATIO or found >= MAX_DELAY_S - EDGE_S:
            # no echo, or a peak at the end of the search (the windows' edge, not an echo);
            # with the microphone quiet, evidence that the speaker's sound does not reach it
            self._unheard = self._unheard + 1 if quiet else self._unheard
            return None
        start = len(far) - len(near) - round(found * RATE_HZ)
        lined_up = far[start : start + len(near)]
        correlation = float(np.dot(near, lined_up) / (np.linalg.norm(near) * np.linalg.norm(lined_up) + 1e-12))
        if correlation < MIN_ECHO_CORRELATION:
            return None  # the peak stands out of lags that see no sound, not out of an echo
        self._unheard = 0
        if self._candidate_s is not None and abs(found - self._candidate_s) <= 0.01:
            if abs(found - self.delay_s) > 0.01 or not self.locked:
                log.info("echo: the speaker's echo comes %.0f ms after its reference", found * 1000)
            self.delay_s, self.locked = found, True
        self._candidate_s = found
        return found


class EchoCanceller:
    """WebRTC AEC3 over the microphone's 16 kHz stream, with :class:`FarEnd` as reference.

    Feed the microphone's blocks with :meth:`process`, each after the speaker's block of
    the same callback went to :attr:`far`: the canceller reads the reference
    ``delay.delay_s`` earlier (less ``LEAD_S``) and returns the cleaned samples, a multiple
    of 10 ms at a time (at most 10 ms are held back). :meth:`residual_echo` tells whether
    what it let through is still the speaker (the guard against barge-ins by the agent's
    own voice). While the speaker has played nothing over the echo's longest way back, the
    microphone passes as heard: AEC3's high-pass filter and suppressor are not applied to a
    user the agent is not talking over.

    Raises:
        MachineError: on construction when the ``pywebrtc-audio`` wheel is missing.
    """

    def __init__(self, far: FarEnd) -> None:
        try:
            from pywebrtc_audio import EchoCanceller as Aec3
        except ImportError as exc:
            from agent.errors import MachineError

            raise MachineError(
                f"echo cancellation needs the pywebrtc-audio package ({exc}); run ./scripts/setup.sh, "
                "or set modules.voice.echo_cancel = false (headphones)"
            ) from None
        self.far = far
        self.delay = DelayEstimator()
        self._aec = Aec3(sample_rate=RATE_HZ)
        n = int(WINDOW_S * RATE_HZ)
        self._heard = _Recent(n)  # the microphone's last WINDOW_S, raw
        self._left = _Recent(n)  # and what the canceller left of it
        self._pending = np.zeros(0, np.float32)
        self._done = 0  # samples of the stream processed
        self._since_estimate = 0
        self._guard_measured = -(10**12)  # where (in ``_done``) the guard last measured the delay

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Cancel the echo in ``samples`` (16 kHz mono float32, the microphone's next) and
        return the cleaned samples ready so far (float32)."""
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        whole = len(self._pending) // CHUNK_SAMPLES * CHUNK_SAMPLES
        if whole == 0:
            return np.zeros(0, np.float32)
        shift = max(0, round((self.delay.delay_s - LEAD_S) * RATE_HZ))
        # Nothing the speaker played can be in these samples when it played nothing over the
        # echo's longest way back: they pass as heard (AEC3 still sees them, to stay adapted).
        quiet = self.far.loud_end <= self._done - int(MAX_DELAY_S * RATE_HZ)
        near = self._pending[:whole]
        # All the 10 ms chunks in one call (AEC3 splits them itself: the same samples out). Each
        # call lets go of the interpreter and waits to get it back behind the agent's other threads.
        cleaned = np.asarray(self._aec.process(near, self.far.read(self._done - shift, whole)), np.float32)
        out = near if quiet else cleaned
        self._heard.push(near)
        self._left.push(out)
        self._pending = self._pending[whole:]
        self._done += whole
        self._since_estimate += whole
        if self._since_estimate >= ESTIMATE_EVERY_S * RATE_HZ:
            self._since_estimate = 0
            self.delay.measure(self._heard.last(self._heard.n), self._reference(WINDOW_S))
        return out

    def realign(self, delay_s: float) -> None:
        """The stream restarted (``duplex.py``): the echo now comes ``delay_s`` after its
        reference (where a restart puts it back), until measured again; no measurement
        spans the restart (the microphone before it was heard at the old delay: a window
        over both found the old delay again, and the stream was restarted twice)."""
        self.delay.unlock()
        self.delay.delay_s = delay_s
        self._since_estimate = -int(WINDOW_S * RATE_HZ)
        self._guard_measured = self._done

    def _reference(self, window_s: float) -> np.ndarray:
        """The far end around the microphone's last ``window_s`` (as :func:`correlate_peak` takes it)."""
        n = int((window_s + MAX_DELAY_S) * RATE_HZ)
        return self.far.read(self._done - n, n)

    def residual_echo(self, window_s: float = GUARD_WINDOW_S) -> bool:
        """True when what the canceller let through over the last ``window_s`` is still
        the speaker's sound (its echo correlates with the reference: the delay moved, the
        canceller has not caught up); the delay is then measured again at once, on a
        window that does not overlap the last one the guard measured."""
        n = int(window_s * RATE_HZ)
        far = self._reference(window_s)
        if not active(far):
            return False
        _, ratio = correlate_peak(self._left.last(n), far)
        if ratio < PEAK_RATIO:
            return False
        # Measured on a window of its own: asked at every frame, two windows 32 ms apart
        # would agree on whatever double talk suggests (2–27 ms "delays" were locked so).
        if self._done - self._guard_measured >= n:
            self._guard_measured = self._done
            self.delay.measure(self._heard.last(n), far)
        return True
