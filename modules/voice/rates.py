"""The voice module's audio constants, defined once and derived from the rate, the way
``whisper/audio.py`` derives its own from ``SAMPLE_RATE``.

Everything the module hears is mono float32 at :data:`RATE_HZ`: Whisper, silero-vad and
the analyser all work at 16 kHz, so files are resampled to it and the microphone records
at it. Live audio moves in frames of :data:`FRAME_SAMPLES` (silero-vad's window at this
rate, 32 ms); the end-of-turn detector counts time in those frames.
"""

from __future__ import annotations

#: the rate Whisper, the VAD, the analyser and the microphone work at (Hz).
RATE_HZ = 16_000
#: samples per live frame: silero-vad's window at 16 kHz.
FRAME_SAMPLES = 512
#: seconds per live frame (0.032 s).
FRAME_S = FRAME_SAMPLES / RATE_HZ
#: live frames per second (31.25).
FRAMES_PER_S = RATE_HZ / FRAME_SAMPLES


def samples_in(seconds: float) -> int:
    """How many samples at :data:`RATE_HZ` ``seconds`` hold (rounded down)."""
    return int(seconds * RATE_HZ)
