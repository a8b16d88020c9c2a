"""Pipecat's Smart Turn v3.2: a small model that hears whether a speaker has finished.

An 8.7 MB ONNX classifier (Whisper-tiny's encoder and a classification head, int8, BSD-2)
trained on conversational speech in 23 languages: given the last 8 s of a turn, the
probability that the speaker is done. The ``pipecat-ai`` wheel carries the model file
(``pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx``); this module reads the file
from the installed package without importing pipecat, and computes the model's input —
Whisper log-mel features of the zero-mean, unit-variance waveform, 800 frames — with
faster-whisper's feature extractor (checked against pipecat's own: within 0.007 on the
log-mel scale). One prediction: 50–65 ms on one CPU thread with VNNI, ~105 ms without
(ONNX Runtime's exact int8 path, see :class:`SmartTurn`).
"""

from __future__ import annotations

import importlib.util
import platform
import threading
from pathlib import Path

import numpy as np

from agent.errors import MachineError
from modules.voice.rates import RATE_HZ

#: the model hears the last this many seconds of a turn (zero-padded in front when shorter).
WINDOW_S = 8
MODEL_FILE = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")


def model_path() -> Path:
    """The ONNX file inside the installed ``pipecat-ai`` package.

    Raises:
        MachineError: ``model.missing`` when the package or its file is absent.
    """
    spec = importlib.util.find_spec("pipecat")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder).joinpath(*MODEL_FILE)
        if path.is_file():
            return path
    raise MachineError(
        "the turn model Smart Turn v3.2 is not installed: pip install pipecat-ai==1.14.0 "
        "(its wheel carries the model), or set modules.voice.turn_model = false",
        reason="model.missing",
        subject="smart-turn-v3.2-cpu.onnx",
    )


#: CPU flags (Linux's names) of the instructions that sum 8-bit products in 32 bits.
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    """The CPU's feature flags as Linux lists them, or None where they cannot be read."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return None


def exact_kernels_needed(flags: frozenset[str] | None = None, machine: str | None = None) -> bool:
    """True when ONNX Runtime must be told to take its exact int8 path for this model: an
    x86 CPU without VNNI, or one whose flags are unknown. ``flags``, ``machine``: the CPU's
    flags and ``platform.machine()`` (read from this machine when None)."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False  # the option concerns x86 kernels only
    flags = cpu_flags() if flags is None else flags
    return flags is None or not (flags & VNNI_FLAGS)


class SmartTurn:
    """Probability that a turn is finished, from its audio. Thread-safe.

    Args:
        threads: onnxruntime's intra-op threads (1: a prediction must not take both cores
            from Whisper, which runs at the same pause).
        exact_kernels: take ONNX Runtime's exact int8 path (None: where this CPU needs it,
            :func:`exact_kernels_needed`; True also on a VNNI CPU, to compare the two).

    Raises:
        MachineError: ``model.missing`` (see :func:`model_path`).
    """

    def __init__(self, threads: int = 1, exact_kernels: bool | None = None) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # The model is int8 (QDQ). On an x86 CPU without VNNI, ONNX Runtime's fast u8s8
        # kernels saturate their 16-bit sums and the verdicts drift (0.67 where a VNNI CPU
        # says 0.11 for "The child almost hurt the"; the labelled set was cut 37 % mid-
        # sentence): such a CPU takes the exact path (~10 % slower there). A VNNI CPU sums
        # in 32 bits: its fast kernels give the exact path's numbers to the bit (171 pauses
        # of the labelled set, 2026-12-02) in 64 ms instead of 105 ms a call.
        self.exact_kernels = exact_kernels_needed() if exact_kernels is None else exact_kernels
        if self.exact_kernels:
            options.add_session_config_entry("session.x64quantprecision", "1")
        self._session = ort.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])
        self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)
        self._lock = threading.Lock()

    def finished(self, samples_16k: np.ndarray) -> float:
        """P(the speaker has finished) for a turn's audio so far (16 kHz mono float32,
        ending where the pause began), 0–1."""
        n = WINDOW_S * RATE_HZ
        y = np.asarray(samples_16k, np.float32)[-n:]
        y = np.pad(y, (n - len(y), 0)) if len(y) < n else y
        y = (y - y.mean()) / np.sqrt(y.var() + 1e-7)
        features = self._features(y)[:, : WINDOW_S * 100]
        with self._lock:
            out = self._session.run(None, {"input_features": features[None].astype(np.float32)})
        return float(np.asarray(out[0]).reshape(-1)[0])
