"""A microphone that is a file: live listening driven by recorded audio, as fast as the
agent hears it (``run.py replay``, soak tests).

The file is decoded, mixed to mono and resampled to 16 kHz, then handed out in 32 ms frames
on the stream's clock (sample 0 at t = 0), followed by ``TAIL_S`` of silence so that the
last turn ends. The source is *lockstep* (:attr:`lockstep`): live listening waits for the
work it starts on a frame (the pause's judgement, a partial transcript, a draft) before it
takes the next, so a run does not depend on how fast the machine is — what real time would
have let finish, finishes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import soundfile as sf

from modules.voice.io.audio import load_audio, resample
from modules.voice.io.devices import Frames, sound_samples
from modules.voice.rates import FRAME_SAMPLES, RATE_HZ

#: silence after the file's end, so that its last turn closes (s).
TAIL_S = 3.0


class FileMicrophone(Frames):
    """Args:
        path: any audio file :func:`~modules.voice.io.audio.load_audio` reads.

    Raises:
        AudioError: on entry, when the file cannot be decoded.
    """

    #: live listening waits for the work it started before taking the next frame.
    lockstep = True

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = f"file:{self.path.name}"
        self._samples = np.zeros(0, np.float32)

    async def __aenter__(self) -> FileMicrophone:
        samples = await asyncio.to_thread(self._decode)
        tail = np.zeros(round(TAIL_S * RATE_HZ), np.float32)
        self._samples = np.concatenate([samples, tail])
        return self

    def _decode(self) -> np.ndarray:
        """The file at 16 kHz mono, as it is: NaN and samples beyond ±1 are kept, as a broken
        device would deliver them (``sound_samples`` deals with them as it does for devices)."""
        try:
            raw, rate_hz = sf.read(str(self.path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError):  # a format libsndfile does not read
            audio = load_audio(self.path)
            raw, rate_hz = audio.samples, audio.rate_hz
        mono = raw.mean(axis=1) if raw.shape[1] > 1 else raw[:, 0]
        if rate_hz == RATE_HZ:
            return np.ascontiguousarray(mono, np.float32)
        return resample(np.nan_to_num(mono), rate_hz, RATE_HZ)

    async def __aexit__(self, *exc: object) -> None:
        self._samples = np.zeros(0, np.float32)

    async def frames(self) -> AsyncIterator[np.ndarray]:
        """Every frame of the file, then the tail of silence; ends there."""
        whole = len(self._samples) // FRAME_SAMPLES * FRAME_SAMPLES
        for start in range(0, whole, FRAME_SAMPLES):
            frame = sound_samples(self._samples[start : start + FRAME_SAMPLES], self.name)
            self.samples_cut += FRAME_SAMPLES
            self.frame_wall_s = time.time()  # a file has no time of its own: heard now
            if self.tap_heard is not None:
                self.tap_heard(frame)
            yield frame
            await asyncio.sleep(0)  # the bus and the modules run between frames
