"""Speech synthesis with Piper (fast, CPU, offline): text in, sentences of audio out.

The voice table ``assets/voices.toml`` names each voice's model and its natural pitch,
rate and usable pitch range. The voice module owns it: :meth:`PiperVoiceInfo.profile` is
what the module announces on the bus (a :class:`~agent.parts.VoiceProfile`, which the
planner anchors every plan to), and :class:`PiperTTS` turns a plan's target rate into
Piper's ``length_scale`` with it. Synthesis is deterministic (``noise_scale =
noise_w_scale = 0``), so the same text and plan give the same samples — and a clause
rendered once need not be rendered again: :class:`PiperTTS` keeps the last
``RENDER_CACHE_CLAUSES`` short clauses it rendered, with their ``length_scale`` on a grid of
``LENGTH_SCALE_STEP`` (a clause's raw rate moves by at most 0.5 %, and the realiser
stretches every clause to the plan's rate after). A voice agent's replies open with the
same few clauses (in one run of ``bench/live_latency.py`` Piper rendered "Mm," and "I
follow." 9 times each, "Right." 5 times, "I see." 4 times), and Piper's ~60 ms a clause is
most of a reply's first sound.
"""

from __future__ import annotations

import importlib
import json
import threading
import tomllib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.errors import MachineError
from agent.parts import VoiceProfile
from agent.paths import ASSETS

if TYPE_CHECKING:
    from piper import PiperVoice

VOICES_TOML = ASSETS / "voices.toml"
#: Piper's length_scale is kept in this range: beyond it the voice slurs or drags.
LENGTH_SCALE_RANGE = (0.6, 1.8)
#: length_scale is rounded to this step (±0.5 % of the rate before the realiser's stretch; at
#: 0.02 a reply measured 5.7 % slow where it was 4.2 % without the grid, past the closed
#: loop's 5 % tolerance).
LENGTH_SCALE_STEP = 0.01
#: how many rendered clauses a voice keeps (LRU), and the longest kept, in words.
RENDER_CACHE_CLAUSES = 128
RENDER_CACHE_MAX_WORDS = 8


class VoiceMissing(MachineError):
    """The voice's model file or package is not installed, or the voice table has no such
    voice. A ``RuntimeError`` (through :class:`~agent.errors.MachineError`); reason
    ``model.missing``."""

    reason = "model.missing"


@dataclass
class PiperVoiceInfo:
    """One ``[piper.<name>]`` row of the voice table.

    Attributes:
        name: the voice's name (``joe``).
        model: ``package:<module>`` (a pip package carrying the voice) or a path to an .onnx.
        natural_f0_hz: median pitch left alone (Hz).
        natural_rate_wps: speaking rate at ``length_scale`` 1 (words per second).
        rate_exponent: words per second scale as ``length_scale ** -rate_exponent``.
        min_f0_hz, max_f0_hz: the lowest and highest pitch a plan may ask of it (Hz).
    """

    name: str
    model: str
    natural_f0_hz: float
    natural_rate_wps: float
    rate_exponent: float
    min_f0_hz: float = 60.0
    max_f0_hz: float = 400.0

    def profile(self, engine: str = "piper", voice: str | None = None) -> VoiceProfile:
        """What this voice sounds like left alone, as the module announces it and the
        planner anchors plans to. ``engine``/``voice`` name who speaks with these numbers
        (Bark's presets have no row of their own and borrow the configured Piper voice's)."""
        return VoiceProfile(
            engine=engine,
            voice=voice or self.name,
            f0_hz=self.natural_f0_hz,
            rate_wps=self.natural_rate_wps,
            min_f0_hz=self.min_f0_hz,
            max_f0_hz=self.max_f0_hz,
        )

    def model_path(self) -> Path:
        """The .onnx file. Raises :class:`VoiceMissing` naming the package to install."""
        if self.model.startswith("package:"):
            module = self.model.split(":", 1)[1]
            try:
                return Path(importlib.import_module(module).model_path())
            except ImportError:
                raise VoiceMissing(
                    f"Piper voice {self.name!r} needs the package "
                    f"{module.replace('_', '-')} (pip install {module.replace('_', '-')})"
                ) from None
        path = Path(self.model).expanduser()
        if not path.is_file():
            raise VoiceMissing(f"Piper voice {self.name!r}: model file {path} not found")
        return path


def piper_voices(table: Path = VOICES_TOML) -> dict[str, PiperVoiceInfo]:
    """The ``[piper.*]`` voices of the voice table."""
    with open(table, "rb") as handle:
        data = tomllib.load(handle)
    return {name: PiperVoiceInfo(name=name, **fields) for name, fields in data.get("piper", {}).items()}


def piper_voice(name: str, table: Path = VOICES_TOML) -> PiperVoiceInfo:
    """The voice table's row ``[piper.<name>]``.

    Raises:
        VoiceMissing: the table has no such voice (the message lists the known ones).
    """
    voices = piper_voices(table)
    if name not in voices:
        raise VoiceMissing(f"no Piper voice {name!r} in {table.name} (known: {', '.join(voices)})", subject=name)
    return voices[name]


def _load_quiet(model: Path) -> PiperVoice:
    """The voice (``model`` and its ``.json`` beside it, as ``PiperVoice.load`` reads them) on
    an ONNX Runtime session whose idle threads sleep instead of spinning. Its two intra-op
    threads spin between operators by default: while another thread of the agent keeps the
    second core busy, the spinning one takes turns with it: a first clause took 245 ms (p90
    286) instead of 108; without spinning 127 ms (p90 140), and 114 ms on an idle machine
    (``bench/piper_spin.py``)."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(Path(f"{model}.json").read_text(encoding="utf-8")))
    return PiperVoice(session=session, config=config)


class PiperTTS:
    """One loaded Piper voice. Thread-safe; one synthesis at a time."""

    name = "piper"
    #: Piper has no sighs or breaths of its own: voicing renders plan cues for it.
    voices_cues = False

    def __init__(self, voice: PiperVoiceInfo) -> None:
        self.info = voice
        self._voice = _load_quiet(voice.model_path())
        self.rate_hz: int = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()
        self._rendered: OrderedDict[tuple[str, float], np.ndarray] = OrderedDict()
        self._rendered_lock = threading.Lock()
        #: clauses :meth:`render` took from what it rendered before, and rendered anew.
        self.cache_hits = 0
        self.cache_misses = 0

    def forget_rendered(self) -> None:
        """Drop every clause kept (the next render of each synthesises it again)."""
        with self._rendered_lock:
            self._rendered.clear()

    def length_scale_for(self, rate_wps: float | None) -> float:
        """Piper's length_scale that makes this voice speak at ``rate_wps`` (1.0 for None),
        on the grid of ``LENGTH_SCALE_STEP``."""
        if rate_wps is None:
            return 1.0
        scale = (self.info.natural_rate_wps / rate_wps) ** (1.0 / self.info.rate_exponent)
        scale = float(np.clip(scale, *LENGTH_SCALE_RANGE))
        return round(round(scale / LENGTH_SCALE_STEP) * LENGTH_SCALE_STEP, 4)

    def render(self, text: str, plan, first: bool = False) -> np.ndarray:
        """One clause in this voice (the ``SpeechEngine`` interface): Piper's own duration
        model brings it near the plan's speech rate (the rate without the planned pauses,
        ``rate_wps / (1 − pause_ratio)``); the realiser does the rest. A short clause
        rendered before at the same length_scale comes from the cache (a copy: the same
        samples)."""
        speech_rate = None
        if plan.rate_wps:
            speech_rate = plan.rate_wps / max(0.2, 1.0 - (plan.pause_ratio or 0.0))
        scale = self.length_scale_for(speech_rate)
        key = (text, scale)
        with self._rendered_lock:
            kept = self._rendered.get(key)
            if kept is not None:
                self._rendered.move_to_end(key)
                self.cache_hits += 1
                return kept.copy()
        pieces = list(self.sentences(text, scale))
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        with self._rendered_lock:
            self.cache_misses += 1
            if len(text.split()) <= RENDER_CACHE_MAX_WORDS:
                self._rendered[key] = samples.copy()
                while len(self._rendered) > RENDER_CACHE_CLAUSES:
                    self._rendered.popitem(last=False)
        return samples

    def sentences(self, text: str, length_scale: float = 1.0, volume: float = 1.0) -> Iterator[np.ndarray]:
        """Synthesise sentence by sentence: float32 mono arrays at ``rate_hz``, each
        peak-normalised to ``volume``. The first arrives before later ones are computed."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0, volume=volume)
        with self._lock:
            for chunk in self._voice.synthesize(text, config):
                yield chunk.audio_float_array
