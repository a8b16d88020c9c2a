"""Voice activity detection with silero-vad's bundled ONNX model (offline, CPU).

Two uses share one set of thresholds: :meth:`SileroVAD.segments` finds speech in a whole
recording; :meth:`SileroVAD.frame_probability` scores one 32 ms frame of a live stream.
Each use has its own model instance (the model is stateful), so a file analysed while
the microphone streams does not disturb the stream's state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from modules.voice.rates import FRAME_SAMPLES, RATE_HZ


@dataclass
class VadOptions:
    """Thresholds, from the config's ``vad_*`` options.

    Attributes:
        threshold: speech probability above which a frame is speech (0..1).
        min_speech_s: shorter bursts are ignored.
        min_silence_s: a gap shorter than this does not split speech.
        pad_s: margin added around each speech segment.
    """

    threshold: float = 0.5
    min_speech_s: float = 0.25
    min_silence_s: float = 0.3
    pad_s: float = 0.1


class SileroVAD:
    """silero-vad v6 (``silero_vad/data/silero_vad.onnx``), single-threaded ONNX Runtime."""

    def __init__(self, options: VadOptions | None = None) -> None:
        from silero_vad import load_silero_vad

        self.options = options or VadOptions()
        self._file_model = load_silero_vad(onnx=True)
        self._stream_model = load_silero_vad(onnx=True)
        self._lock = threading.Lock()

    def segments(self, samples_16k: np.ndarray, probabilities: np.ndarray | None = None) -> list[tuple[float, float]]:
        """Speech segments of a 16 kHz mono float32 signal, as (start_s, end_s), sorted.

        Args:
            probabilities: the speech probability of each ``FRAME_SAMPLES``-sample frame of
                ``samples_16k`` as a live stream scored them (:meth:`frame_probability`):
                segmented by silero's own rules without running the model again (~30 ms
                for a 3 s turn on this CPU). Ignored unless there is one per frame.
        """
        import torch
        from silero_vad import get_speech_timestamps, get_speech_timestamps_from_probs

        if samples_16k.size < FRAME_SAMPLES:
            return []
        o = self.options
        if probabilities is not None and len(probabilities) == -(-samples_16k.size // FRAME_SAMPLES):
            stamps = get_speech_timestamps_from_probs(
                [float(p) for p in probabilities],
                sampling_rate=RATE_HZ,
                threshold=o.threshold,
                min_speech_duration_ms=int(o.min_speech_s * 1000),
                min_silence_duration_ms=int(o.min_silence_s * 1000),
                speech_pad_ms=int(o.pad_s * 1000),
                audio_length_samples=samples_16k.size,
            )
            return [(s["start"] / RATE_HZ, s["end"] / RATE_HZ) for s in stamps]
        with self._lock:
            stamps = get_speech_timestamps(
                torch.from_numpy(np.ascontiguousarray(samples_16k, dtype=np.float32)),
                self._file_model,
                threshold=o.threshold,
                sampling_rate=RATE_HZ,
                min_speech_duration_ms=int(o.min_speech_s * 1000),
                min_silence_duration_ms=int(o.min_silence_s * 1000),
                speech_pad_ms=int(o.pad_s * 1000),
            )
            self._file_model.reset_states()
        return [(s["start"] / RATE_HZ, s["end"] / RATE_HZ) for s in stamps]

    def frame_probability(self, frame: np.ndarray) -> float:
        """Speech probability (0..1) of the next ``FRAME_SAMPLES``-sample (32 ms) frame of a live stream."""
        import torch

        return float(self._stream_model(torch.from_numpy(np.asarray(frame, np.float32)), RATE_HZ).item())

    def reset(self) -> None:
        """Forget the live stream's state (call between turns)."""
        self._stream_model.reset_states()
