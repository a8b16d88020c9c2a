"""One transcription's audio: checked, converted to what the agent hears, written as it comes.

A client may send any PCM the protocol allows (``audio-start``: rate, width, channels);
``wyoming.audio.AudioChunkConverter`` turns each chunk into 16 kHz mono 16-bit, which goes
straight into a temporary WAV, so a long stream costs disk, not memory, and at most
:data:`MAX_AUDIO_S` of it is taken.
"""

from __future__ import annotations

import uuid
import wave
from pathlib import Path

from wyoming.audio import AudioChunk, AudioChunkConverter, AudioStart

from agent.errors import InputError

#: what the agent hears: Whisper's, the VAD's and the analyser's rate (Hz), mono, 16-bit.
HEARD_RATE_HZ = 16_000
HEARD_WIDTH_BYTES = 2
HEARD_CHANNELS = 1
#: the most audio one transcription may send (seconds): 19.2 MB of WAV at the heard rate.
MAX_AUDIO_S = 600.0
#: the rates a client may send (Hz): telephone speech up to studio audio.
MIN_RATE_HZ, MAX_RATE_HZ = 8_000, 192_000
#: sample widths the converter handles (bytes: 8-, 16-, 24- and 32-bit PCM).
WIDTHS_BYTES = (1, 2, 3, 4)
#: channel counts the converter mixes to mono (it averages a pair; more it cannot).
CHANNELS = (1, 2)


def check_format(rate_hz: object, width_bytes: object, channels: object) -> None:
    """Refuse a format the server cannot convert.

    Raises:
        InputError: a rate outside 8–192 kHz, a width other than 1–4 bytes, or other than 1
            or 2 channels (reason ``input.bad-request``); the message names the value.
    """
    if type(rate_hz) is not int or not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise InputError(f"audio rate {rate_hz!r} Hz: send {MIN_RATE_HZ}–{MAX_RATE_HZ} Hz", subject="rate")
    if type(width_bytes) is not int or width_bytes not in WIDTHS_BYTES:
        raise InputError(f"audio width {width_bytes!r} bytes: send 1, 2, 3 or 4 (16-bit is 2)", subject="width")
    if type(channels) is not int or channels not in CHANNELS:
        raise InputError(f"audio channels {channels!r}: send 1 (mono) or 2 (stereo)", subject="channels")


class Recording:
    """The audio of one ``audio-start`` … ``audio-stop``, in a WAV file in ``folder``.

    Args:
        start: the ``audio-start`` that opened the stream (its format is every chunk's).
        folder: where the WAV goes (named ``heard-<random>.wav``).
        max_audio_s: the most seconds the stream may hold.

    Raises:
        InputError: the format cannot be converted (see :func:`check_format`).
        OSError: the WAV cannot be created.
    """

    def __init__(self, start: AudioStart, folder: Path, max_audio_s: float = MAX_AUDIO_S) -> None:
        check_format(start.rate, start.width, start.channels)
        self.rate_hz, self.width_bytes, self.channels = start.rate, start.width, start.channels
        self.max_audio_s = max_audio_s
        self._converter = AudioChunkConverter(rate=HEARD_RATE_HZ, width=HEARD_WIDTH_BYTES, channels=HEARD_CHANNELS)
        self.path = folder / f"heard-{uuid.uuid4().hex}.wav"
        self._wav: wave.Wave_write | None = wave.open(str(self.path), "wb")
        self._wav.setframerate(HEARD_RATE_HZ)
        self._wav.setsampwidth(HEARD_WIDTH_BYTES)
        self._wav.setnchannels(HEARD_CHANNELS)
        #: seconds received so far (at the client's rate).
        self.received_s = 0.0
        self._frames_at_close = 0

    def add(self, chunk: AudioChunk) -> None:
        """Convert ``chunk`` and append it to the WAV.

        Raises:
            InputError: the chunk's format differs from ``audio-start``'s, it holds part of
                a frame, or the stream would pass ``max_audio_s``.
        """
        assert self._wav is not None, "add after close"
        if (chunk.rate, chunk.width, chunk.channels) != (self.rate_hz, self.width_bytes, self.channels):
            raise InputError(
                f"an audio chunk of {chunk.rate} Hz, {chunk.width} bytes, {chunk.channels} channel(s) in a stream "
                f"that started as {self.rate_hz} Hz, {self.width_bytes} bytes, {self.channels} channel(s)"
            )
        frame_bytes = self.width_bytes * self.channels
        if len(chunk.audio) % frame_bytes:
            raise InputError(f"an audio chunk of {len(chunk.audio)} bytes is not whole {frame_bytes}-byte frames")
        chunk_s = len(chunk.audio) / frame_bytes / self.rate_hz
        if self.received_s + chunk_s > self.max_audio_s:
            raise InputError(
                f"more than {self.max_audio_s:g} s of audio in one transcription (the most this server takes)"
            )
        self.received_s += chunk_s
        self._wav.writeframes(self._converter.convert(chunk).audio)

    @property
    def frames(self) -> int:
        """Frames written so far at :data:`HEARD_RATE_HZ` (all of them once closed)."""
        return self._wav.getnframes() if self._wav is not None else self._frames_at_close

    def close(self) -> Path:
        """Finish the WAV (its header then says how long it is); returns its path."""
        if self._wav is not None:
            self._frames_at_close = self._wav.getnframes()
            self._wav.close()
            self._wav = None
        return self.path

    def discard(self) -> None:
        """Close and delete the WAV (a stream ended, used or abandoned)."""
        self.close()
        self.path.unlink(missing_ok=True)
