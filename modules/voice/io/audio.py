"""Audio in and out: decode any common file, mix to mono, resample, write WAV.

soundfile (libsndfile: WAV, FLAC, OGG, MP3, AIFF…) decodes first; PyAV (FFmpeg's
decoders, e.g. M4A/AAC, Opus in WebM) is the fallback. soxr resamples. Nothing here
depends on torchaudio, which cannot load next to the CPU build of torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from agent.errors import InputError
from agent.files import write_atomically

#: the rate Whisper, the VAD and the analyser work at; one name for ``rates.RATE_HZ``,
#: kept because callers outside the module (tests/conftest.py) import it from here.
from modules.voice.rates import RATE_HZ

#: below this a file is refused: speech above 4 kHz is gone and ASR degrades badly.
MIN_RATE_HZ = 8000


class AudioError(InputError):
    """An audio file cannot be used. The message names the file, the problem and the fix.
    A ``ValueError`` (through :class:`~agent.errors.InputError`); reason ``input.unreadable``,
    ``subject`` the file."""

    reason = "input.unreadable"


@dataclass
class Audio:
    """Decoded audio.

    Attributes:
        samples: float32 array of shape (n_samples, n_channels), values in [-1, 1].
        rate_hz: sample rate.
        source: where it came from (a path or a device name).
    """

    samples: np.ndarray
    rate_hz: int
    source: str
    #: set when decoding stopped early (a truncated file) and only the part before is here.
    warning: str | None = None

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.rate_hz

    def mono(self) -> np.ndarray:
        """Mean of the channels, float32, shape (n_samples,)."""
        return self.samples.mean(axis=1, dtype=np.float32) if self.channels > 1 else self.samples[:, 0]

    def channel(self, index: int) -> np.ndarray:
        """One channel, float32, shape (n_samples,)."""
        return np.ascontiguousarray(self.samples[:, index])


#: channels whose signals correlate less than this carry different voices.
SAME_SOURCE_CORRELATION = 0.5
#: a channel whose peak stays below this (dBFS) is dead and is left out.
DEAD_CHANNEL_DB = -60.0


def voices(audio: Audio, mode: str = "auto") -> list[tuple[str | None, np.ndarray]]:
    """The separate voices of a recording as ``(label, mono samples)``.

    ``mix`` averages the channels into one unlabelled voice. ``split`` keeps every channel
    apart (``left``/``right`` for two, ``ch0``, ``ch1``… otherwise). ``auto`` splits when the
    live channels correlate less than ``SAME_SOURCE_CORRELATION`` (two microphones, two
    speakers) and mixes otherwise (a mono recording stored as stereo). Dead channels (peak
    below ``DEAD_CHANNEL_DB``) are left out.

    Raises:
        ValueError: ``mode`` is not auto, mix or split.
    """
    if mode not in ("auto", "mix", "split"):
        raise ValueError(f"channel mode {mode!r}: choose auto, mix or split")
    n = audio.channels
    if n == 1:
        return [(None, audio.samples[:, 0])]
    labels = ["left", "right"] if n == 2 else [f"ch{i}" for i in range(n)]
    peak_db = 20 * np.log10(np.abs(audio.samples).max(axis=0) + 1e-12)
    live = [i for i in range(n) if peak_db[i] > DEAD_CHANNEL_DB]
    if len(live) <= 1:
        keep = live or [0]
        return [(None, audio.channel(keep[0]))]
    if mode == "auto":
        corr = np.corrcoef(audio.samples[:, live].T)
        distinct = np.abs(corr[np.triu_indices(len(live), 1)]).max() < SAME_SOURCE_CORRELATION
        mode = "split" if distinct else "mix"
    if mode == "mix":
        return [(None, audio.samples[:, live].mean(axis=1, dtype=np.float32))]
    return [(labels[i], audio.channel(i)) for i in live]


def resample(samples: np.ndarray, rate_in_hz: int, rate_out_hz: int) -> np.ndarray:
    """Resample a mono float32 signal with soxr (high quality). Returns float32."""
    if rate_in_hz == rate_out_hz:
        return np.asarray(samples, dtype=np.float32)
    return soxr.resample(np.asarray(samples, dtype=np.float32), rate_in_hz, rate_out_hz, quality="HQ").astype(
        np.float32, copy=False
    )


_BLOCK_FRAMES = 1 << 16


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int, str | None]:
    """Decode block by block, so a file that breaks off keeps the audio before the break."""
    blocks: list[np.ndarray] = []
    with sf.SoundFile(str(path)) as handle:
        rate, channels = int(handle.samplerate), handle.channels
        try:
            while True:
                block = handle.read(_BLOCK_FRAMES, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                blocks.append(block)
        except (sf.LibsndfileError, RuntimeError) as exc:
            if not blocks:
                raise
            return np.concatenate(blocks), rate, f"decoding stopped early ({exc})"
    samples = np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)
    return samples, rate, None


def _decode_av(path: Path) -> tuple[np.ndarray, int, str | None]:
    """FFmpeg's decoders through PyAV (installed with faster-whisper); keeps what decodes
    before a broken packet."""
    import av

    chunks: list[np.ndarray] = []
    warning = None
    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise AudioError(f"{path}: holds no audio stream", subject=str(path))
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate or 0)
        resampler = av.AudioResampler(format="fltp", rate=rate)
        try:
            for frame in container.decode(stream):
                chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise
            warning = f"decoding stopped early ({exc})"
        chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    if not chunks:
        return np.zeros((0, 1), np.float32), rate, warning
    return np.concatenate(chunks, axis=1).T.astype(np.float32), rate, warning


def load_audio(path: str | Path) -> Audio:
    """Decode an audio file to float32 samples at its own rate.

    Raises:
        AudioError: the file is empty, not audio, holds no samples, has a rate below
            ``MIN_RATE_HZ``, or holds NaN/infinite samples (reason ``input.unreadable``);
            it does not exist (reason ``input.missing``). ``subject`` is the path.
    """
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file", reason="input.missing", subject=str(path))
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file", subject=str(path))
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)", subject=str(path))
    try:
        samples, rate, warning = _decode_soundfile(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as sf_exc:
        try:
            samples, rate, warning = _decode_av(path)
        except AudioError:
            raise
        except Exception as av_exc:
            raise AudioError(
                f"{path}: not an audio file that can be decoded "
                f"(libsndfile: {sf_exc}; FFmpeg: {av_exc}). Use WAV, FLAC, MP3 or OGG.",
                subject=str(path),
            ) from None
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: holds no audio samples (a header only, or truncated)", subject=str(path))
    if rate < MIN_RATE_HZ:
        raise AudioError(
            f"{path}: sample rate {rate} Hz is too low for speech; "
            f"record at {MIN_RATE_HZ} Hz or more ({RATE_HZ} Hz is ideal)",
            subject=str(path),
        )
    if not np.isfinite(samples).all():
        raise AudioError(f"{path}: holds NaN or infinite samples; the file is corrupt", subject=str(path))
    return Audio(samples, rate, str(path), warning)


class OutputPathError(InputError, OSError):
    """An output path that cannot be a WAV file here (a wrong name, a missing folder, a
    folder that is not writable). An ``OSError`` as before (and a ``ValueError`` through
    :class:`~agent.errors.InputError`); reason ``input.output-path``, ``subject`` the path."""

    reason = "input.output-path"


def check_wav_path(path: str | Path) -> Path:
    """``path`` as a WAV file that can be written: a ``.wav`` name in an existing, writable
    folder (checked before any work is spent on what goes in it).

    Raises:
        OutputPathError: the name is not a .wav, or the folder is missing or not writable.
    """
    path = Path(path)
    if path.suffix.lower() != ".wav":
        raise OutputPathError(f"{path}: the output is a WAV file; give it a .wav name", subject=str(path))
    folder = path.parent
    if not folder.is_dir():
        raise OutputPathError(f"{path}: the folder {folder} does not exist", subject=str(path))
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputPathError(f"{path}: not writable", subject=str(path))
    return path


def write_wav(path: str | Path, samples: np.ndarray, rate_hz: int) -> Path:
    """Write mono float32 samples as 16-bit PCM WAV (clipped to [-1, 1]). The file appears
    whole or not at all: it is written beside its name and renamed into place, so a full
    disk or a kill never leaves half a WAV (nor destroys an older file of that name).

    Raises:
        OSError: not a .wav name, the folder is missing or not writable, or the disk is full.
    """
    path = check_wav_path(path)
    clipped = np.clip(samples, -1.0, 1.0)
    try:
        return write_atomically(
            path, lambda partial: sf.write(str(partial), clipped, rate_hz, subtype="PCM_16", format="WAV")
        )
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise OSError(f"{path}: {exc}") from None
