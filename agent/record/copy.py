"""An audio file's sound as a recorded track (``analyze FILE --out DIR``): decoded, mixed to
mono, resampled to 16 kHz (soxr) and written as ``audio/mic-NNN.wav`` of a session folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from agent.record import RATE_HZ
from agent.record.options import RecordOptions
from agent.record.track import AudioTrack

log = logging.getLogger(__name__)


def decode_16k(path: str | Path) -> np.ndarray:
    """The file's audio as float32 mono at 16 kHz, shape ``(n,)``.

    Raises:
        ValueError, OSError: it cannot be decoded (soundfile, then librosa's audioread
            path for what libsndfile does not read).
    """
    try:
        samples, rate_hz = sf.read(str(path), dtype="float32", always_2d=True)
        mono = samples.mean(axis=1)
    except (sf.LibsndfileError, RuntimeError):
        import librosa

        mono, rate_hz = librosa.load(str(path), sr=None, mono=True)
    mono = np.asarray(mono, np.float32)
    return soxr.resample(mono, rate_hz, RATE_HZ).astype(np.float32) if rate_hz != RATE_HZ else mono


def copy_audio(folder: Path, path: str | Path, options: RecordOptions) -> str | None:
    """Write ``path``'s audio into ``folder`` as the next ``mic`` file(s); returns the first
    file's path relative to the folder, or None (logged) when the audio cannot be decoded
    or written — the analysis goes on without it."""
    try:
        samples = decode_16k(path)
    except Exception as exc:  # any decoder's failure: the voice module reports it as a scene
        log.warning("recording: %s not copied: cannot decode it (%s)", path, exc)
        return None
    first: list[str] = []
    track = AudioTrack(folder, "mic", 0.0, options.flush_s, options.rotate_s, lambda rel, _t: first.append(rel))
    track.write(samples)
    track.close()
    if track.failed is not None:
        return None
    return first[0] if first else None
