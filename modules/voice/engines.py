"""The voice module's engines: loaded once, on first use; their readiness for ``models``.

:class:`VoiceEngines` holds what one running module has loaded (Whisper, silero-vad, the
Piper voice, Bark) and decides which synthesiser speaks (``tts = auto``: Bark when its
weights are here and a GPU runs them, else Piper). It also gives the module's
:class:`~agent.parts.VoiceProfile`, the configured voice as the voice table describes it.
:func:`engine_statuses` and :func:`prepare_models` serve ``run.py models`` without
loading anything.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from agent.errors import InputError
from agent.module import EngineStatus
from agent.parts import VoiceProfile
from agent.paths import cache_dir
from agent.voiceplan import VoicePlan
from modules.voice.asr.engines import AsrEngine, FasterWhisper, make_engine
from modules.voice.asr.quick import QuickDecoder
from modules.voice.asr.weights import (
    WeightsMissing,
    faster_whisper_status,
    load_faster_whisper,
    openai_checkpoint,
    openai_checkpoint_status,
)
from modules.voice.listen.turn_model import SmartTurn
from modules.voice.listen.vad import SileroVAD
from modules.voice.options import VoiceOptions
from modules.voice.tts.piper import PiperTTS, VoiceMissing, piper_voice, piper_voices

if TYPE_CHECKING:
    from modules.voice.speak.voicing import SpeechEngine

log = logging.getLogger(__name__)

#: the synthesisers a plan may name.
SYNTHESISERS = ("piper", "bark")
#: Bark's preset a plan gets unless its register or language picks another
#: (``assets/bark_presets.toml``, ``[default]``); the name a Bark voice profile carries.
BARK_DEFAULT_PRESET = "v2/en_speaker_6"


def bark_usable(bark_size: str) -> bool:
    """True when Bark's ``bark_size`` weights are all here and a GPU can run them (what
    ``tts = auto`` asks). Checks the files first: torch is imported only when they are."""
    from modules.voice.tts.bark.models import weights_status

    if not all(present for _, _, present in weights_status(bark_size)):
        return False
    import torch

    return bool(torch.cuda.is_available())


class VoiceEngines:
    """The engines of one voice module, each loaded on first use and kept.

    Not thread-safe on first use of one engine from two threads at once; the module
    loads them from one worker thread at a time.
    """

    def __init__(self, options: VoiceOptions) -> None:
        self.o = options
        self._asr: AsrEngine | None = None
        self._vad: SileroVAD | None = None
        self._tts: dict[str, PiperTTS] = {}
        self._bark: SpeechEngine | None = None
        self._quick: QuickDecoder | bool | None = False  # False: not tried yet
        self._turn_model: SmartTurn | None = None
        #: the listening pipeline has run once on real speech (``listen/live.py`` warm_up):
        #: listening that starts again (after the sound server came back) skips it.
        self.warmed = False

    def asr(self) -> AsrEngine:
        """Whisper (the configured engine and model). Raises WeightsMissing."""
        if self._asr is None:
            self._asr = make_engine(self.o.asr, self.o.asr_options(), cache_dir())
        return self._asr

    def quick(self) -> QuickDecoder | None:
        """The quick decoder for live listening (``asr/quick.py``), on faster-whisper's model
        (the configured engine's, or loaded for it beside openai-whisper); None when the
        model is multilingual and no language is configured (it does not detect languages).
        Raises WeightsMissing."""
        if self._quick is False:
            asr = self.asr()
            if isinstance(asr, FasterWhisper):
                model = asr.model
            else:
                model = load_faster_whisper(self.o.whisper_model, cache_dir(), self.o.threads)
            try:
                self._quick = QuickDecoder(model, self.o.language or None)
            except ValueError as exc:
                log.info("voice: live listening transcribes with %s at each pause (%s)", self.o.asr, exc)
                self._quick = None
        return self._quick if isinstance(self._quick, QuickDecoder) else None

    def turn_model(self) -> SmartTurn:
        """Smart Turn v3.2 for ``end_of_turn = model``. Raises MachineError (model.missing)."""
        if self._turn_model is None:
            self._turn_model = SmartTurn()
        return self._turn_model

    def vad(self) -> SileroVAD:
        """silero-vad with the configured thresholds."""
        if self._vad is None:
            self._vad = SileroVAD(self.o.vad_options())
        return self._vad

    def tts(self, voice: str) -> PiperTTS:
        """The Piper voice ``voice``. Raises VoiceMissing (not in the table, or not installed)."""
        if voice not in self._tts:
            self._tts[voice] = PiperTTS(piper_voice(voice))
        return self._tts[voice]

    def engine_name(self, plan: VoicePlan | None = None) -> str:
        """The synthesiser that speaks ``plan``: the plan's choice, else the config's;
        ``auto`` is Bark when :func:`bark_usable`, else Piper."""
        wanted = (plan.engine if plan is not None else None) or self.o.tts
        if wanted != "auto":
            return wanted
        return "bark" if bark_usable(self.o.bark_size) else "piper"

    def engine(self, name: str) -> SpeechEngine:
        """The synthesiser ``name``, loaded once (Bark on the GPU when there is one).

        Raises:
            VoiceMissing, BarkWeightsMissing, BarkMissing: its model is not here.
            InputError: ``name`` is no synthesiser (``input.bad-request``).
        """
        if name == "piper":
            return self.tts(self.o.voice)
        if name == "bark":
            if self._bark is None:
                import torch

                from modules.voice.tts.bark.models import load_models, lowered
                from modules.voice.tts.bark.voice import BarkVoice

                models = lowered(load_models(self.o.bark_size), self.o.bark_precision)
                if torch.cuda.is_available():
                    for part in (models.text, models.coarse, models.fine, models.codec):
                        part.to("cuda")
                self._bark = BarkVoice(models)
            return self._bark
        raise InputError(f"unknown speech engine {name!r} (choose {' or '.join(SYNTHESISERS)})", subject=name)

    def profile(self) -> VoiceProfile:
        """The voice this module speaks with: the configured Piper voice's row of the voice
        table. Bark's presets have no row: a Bark profile carries the Piper voice's
        numbers (the realiser puts Bark's speech on the plan's pitch and rate anyway)
        under Bark's default preset. Resolving ``tts = auto`` may import torch.

        Raises:
            VoiceMissing: the configured voice is not in the table.
        """
        row = piper_voice(self.o.voice)
        if self.engine_name() == "bark":
            return row.profile(engine="bark", voice=BARK_DEFAULT_PRESET)
        return row.profile()


def engine_statuses(o: VoiceOptions) -> list[EngineStatus]:
    """Every engine the options could use, whether it is ready, where its weights are."""
    cache = cache_dir()
    rows: list[EngineStatus] = []
    for engine, status in (("openai-whisper", openai_checkpoint_status), ("faster-whisper", faster_whisper_status)):
        try:
            ready, where, detail = status(o.whisper_model, cache)
        except ImportError as exc:
            ready, where, detail = False, "-", f"{engine} is not installed ({exc})"
        rows.append(EngineStatus("asr", engine, o.whisper_model, o.asr == engine, ready, where, detail))
    try:
        import silero_vad

        vad_path = Path(silero_vad.__file__).parent / "data" / "silero_vad.onnx"
        rows.append(
            EngineStatus(
                "vad",
                "silero-vad",
                "silero_vad.onnx",
                True,
                vad_path.is_file(),
                str(vad_path),
                "bundled with the silero-vad package",
            )
        )
    except ImportError:
        rows.append(EngineStatus("vad", "silero-vad", "silero_vad.onnx", True, False, "-", "pip install silero-vad"))
    bark_used = o.tts == "bark" or (o.tts == "auto" and bark_usable(o.bark_size))
    for name, voice in piper_voices().items():
        try:
            where, ready, detail = str(voice.model_path()), True, "Piper voice"
        except VoiceMissing as exc:
            where, ready, detail = "-", False, str(exc)
        rows.append(EngineStatus("tts", "piper", name, o.voice == name and not bark_used, ready, where, detail))
    from modules.voice.tts.bark.models import bark_dir, weights_status

    for size in ("small", "full"):
        missing = [str(path) for _, path, present in weights_status(size) if not present]
        detail = (
            "weights in bark's cache"
            if not missing
            else f"missing {len(missing)} files; downloaded from suno/bark on first use when online"
            + ("" if o.tts == "bark" else " (tts = auto uses Bark only with its weights and a GPU)")
        )
        rows.append(
            EngineStatus(
                "tts",
                "bark",
                f"{size} ({o.bark_precision})",
                bark_used and o.bark_size == size,
                not missing,
                str(bark_dir()),
                detail,
            )
        )
    return rows


def prepare_models(o: VoiceOptions) -> None:
    """Convert the configured Whisper model for openai-whisper once (cached); a model
    that cannot be had is logged, not raised (``models --prepare`` reports it)."""
    try:
        openai_checkpoint(o.whisper_model, cache_dir())
    except WeightsMissing as exc:
        log.warning("%s", exc)
