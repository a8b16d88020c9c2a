"""One side of a session's audio, written as it comes: 16 kHz mono 16-bit WAV files in the
session folder's ``audio/``, flushed (data and header) every ``flush_s``, a new file every
``rotate_s`` (the format: ``agent/record/__init__.py``).

A kill at any moment loses at most the last ``flush_s``: libsndfile writes each block
straight to the file (no buffer of its own), and a flush rewrites the header's length, so
a reader of a killed file gets every flushed sample (and libsndfile reads the unflushed
rest too, taking the length from the file's size). A write that fails (a full disk, the
folder gone) stops this track with one log line; the agent goes on without it.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from agent.record import AUDIO_DIR, RATE_HZ

log = logging.getLogger(__name__)

SUBTYPE = "PCM_16"


#: free bytes below which a failed write is put down to a full disk.
FULL_DISK_BYTES = 1 << 20


def why_unwritten(exc: Exception, folder: Path) -> str:
    """A sentence for a failed write. libsndfile reports a full disk as "System error.":
    the disk's free space says what it was."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({exc.filename or folder})"
    try:
        if shutil.disk_usage(folder).free < FULL_DISK_BYTES:
            return f"No space left on device ({folder}; libsndfile: {exc})"
    except OSError:
        return f"{folder} is gone (libsndfile: {exc})"
    return str(exc)


def next_index(audio_dir: Path, name: str) -> int:
    """The first free file number of track ``name`` in ``audio_dir`` (``mic-000.wav`` → 0)."""
    taken = [p.stem.rpartition("-")[2] for p in audio_dir.glob(f"{name}-*.wav")]
    return max((int(n) for n in taken if n.isdigit()), default=-1) + 1


class AudioTrack:
    """Args:
        folder: the session folder (its ``audio/`` holds the files).
        name: the track, ``mic`` or ``voice``; the files are ``audio/<name>-NNN.wav``.
        t_start: the stream-clock time of the first sample written (s).
        flush_s, rotate_s: see :class:`~agent.record.options.RecordOptions`.
        announce: called with (the file's path relative to the folder, the stream-clock time
            of its first sample) as each file is begun, on the writer's thread.

    ``write`` takes float32 samples at 16 kHz (any shape that flattens to mono); NaN and
    infinities become 0 and everything beyond ±1 is clipped (16-bit PCM would wrap).
    ``write`` and ``close`` may be called from different threads.
    """

    def __init__(
        self,
        folder: Path,
        name: str,
        t_start: float,
        flush_s: float,
        rotate_s: float,
        announce: Callable[[str, float], None],
    ) -> None:
        self.folder, self.name = folder, name
        self.announce = announce
        self.flush_frames = max(1, round(flush_s * RATE_HZ))
        self.rotate_frames = max(1, round(rotate_s * RATE_HZ))
        self.t_start = t_start
        #: samples written to this track, all files together.
        self.frames = 0
        self.failed: str | None = None
        self._file: sf.SoundFile | None = None
        self._in_file = 0
        self._unflushed = 0
        self._lock = threading.Lock()
        self.closed = False

    def _begin(self) -> sf.SoundFile:
        audio = self.folder / AUDIO_DIR
        path = audio / f"{self.name}-{next_index(audio, self.name):03d}.wav"
        handle = sf.SoundFile(path, "w", RATE_HZ, 1, SUBTYPE, format="WAV")
        self._in_file = 0
        self.announce(path.relative_to(self.folder).as_posix(), self.t_start + self.frames / RATE_HZ)
        return handle

    def write(self, samples: np.ndarray) -> None:
        """Append ``samples``; a failure stops the track (logged once), never raises."""
        block = np.nan_to_num(np.asarray(samples, np.float32).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
        np.clip(block, -1.0, 1.0, out=block)
        with self._lock:
            if self.failed is None and not self.closed:
                self._write(block)

    def _write(self, block: np.ndarray) -> None:
        try:
            while len(block):
                if self._file is None or self._in_file >= self.rotate_frames:
                    self._close_file()
                    self._file = self._begin()
                take = block[: self.rotate_frames - self._in_file]
                self._file.write(take)
                block = block[len(take) :]
                self.frames += len(take)
                self._in_file += len(take)
                self._unflushed += len(take)
                if self._unflushed >= self.flush_frames:
                    self._file.flush()
                    self._unflushed = 0
        except (OSError, RuntimeError, sf.SoundFileError) as exc:
            self.failed = why_unwritten(exc, self.folder)
            log.error(
                "recording of %s stopped: %s (%.1f s written to %s); the agent goes on",
                self.name,
                exc,
                self.frames / RATE_HZ,
                self.folder,
            )
            self._close_file()

    def _close_file(self) -> None:
        if self._file is not None:
            handle, self._file = self._file, None
            try:
                handle.close()
            except (OSError, RuntimeError, sf.SoundFileError) as exc:
                log.warning("recording of %s: closing %s: %s", self.name, handle.name, exc)

    def close(self) -> None:
        """Flush and close the current file; later writes are dropped (idempotent)."""
        with self._lock:
            self.closed = True
            self._close_file()
