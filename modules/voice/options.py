"""``[modules.voice]``: the voice module's options, parsed and checked once.

``assets/config.toml`` documents each option. A wrong name or type is refused by
:func:`agent.codec.from_dict` naming the option; a wrong choice is refused here naming
the choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.module import ModuleConfigError, parse_options
from modules.voice.asr.engines import ENGINES, AsrOptions
from modules.voice.listen.endpoint import EndpointOptions
from modules.voice.listen.vad import VadOptions

SPEECH_ENGINES = ("auto", "piper", "bark")
#: end-of-turn policies (``listen/endpoint.py``): a turn model with a word veto, prosody and
#: words, prosody alone, a fixed silence timer.
END_OF_TURN = ("model", "words", "prosody", "fixed")
#: Bark's precisions (tts.bark.fast.PRECISIONS; anything but float32 is lossy and opt-in).
BARK_PRECISIONS = ("float32", "bfloat16", "int8")


@dataclass
class VoiceOptions:
    """``[modules.voice]`` in the config (see ``assets/config.toml`` for each option).
    Seconds end in ``_s``; ``output`` is ``device`` or a .wav path."""

    asr: str = "openai-whisper"
    whisper_model: str = "tiny.en"
    language: str = ""
    threads: int = 2
    beam_size: int = 1
    channels: str = "auto"
    tts: str = "auto"
    voice: str = "joe"
    bark_size: str = "small"
    bark_precision: str = "float32"
    output: str = "device"
    input_device: str = ""
    input_file: str = ""
    output_device: str = ""
    input_rate_hz: int = 0
    output_rate_hz: int = 0
    lead_silence_s: float = 0.02
    vad_threshold: float = 0.5
    vad_min_speech_s: float = 0.25
    vad_min_silence_s: float = 0.3
    vad_pad_s: float = 0.1
    end_of_turn: str = "model"
    end_silence_s: float = 0.8
    min_silence_s: float = 0.35
    sure_silence_s: float = 0.2
    max_silence_s: float = 1.08
    max_turn_s: float = 20.0
    echo_cancel: bool = True
    start_tone: bool = True
    barge_in: bool = True
    hold_threshold: float = 0.2
    backchannel_max_s: float = 0.6
    prepare_replies: bool = True
    prepared_lead_s: float = 0.03
    speaker_wait_s: float = 0.3
    wake_phrase: str = ""
    wake_window_s: float = 8.0
    partial_every_s: float = 0.5
    model_threshold: float = 0.7

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> VoiceOptions:
        """The options of ``[modules.voice]`` (without ``enabled``).

        Raises:
            ModuleConfigError: an unknown option, a wrong type or a wrong choice; the
                message names the option and the fix.
        """
        parsed = parse_options(cls, options, "voice")
        if parsed.asr not in ENGINES:
            raise ModuleConfigError(f"modules.voice.asr = {parsed.asr!r}: choose {' or '.join(ENGINES)}")
        if parsed.end_of_turn not in END_OF_TURN:
            raise ModuleConfigError(
                f"modules.voice.end_of_turn = {parsed.end_of_turn!r}: choose {', '.join(END_OF_TURN)}"
            )
        if parsed.partial_every_s < 0:
            raise ModuleConfigError("modules.voice.partial_every_s must not be negative (0: no partials)")
        if parsed.channels not in ("auto", "mix", "split"):
            raise ModuleConfigError(f"modules.voice.channels = {parsed.channels!r}: choose auto, mix or split")
        if parsed.tts not in SPEECH_ENGINES:
            raise ModuleConfigError(f"modules.voice.tts = {parsed.tts!r}: choose {', '.join(SPEECH_ENGINES)}")
        if parsed.bark_size not in ("small", "full"):
            raise ModuleConfigError(f"modules.voice.bark_size = {parsed.bark_size!r}: choose small or full")
        if parsed.bark_precision not in BARK_PRECISIONS:
            raise ModuleConfigError(
                f"modules.voice.bark_precision = {parsed.bark_precision!r}: "
                f"choose {', '.join(BARK_PRECISIONS)} (anything but float32 is lossy)"
            )
        if not 0.0 < parsed.hold_threshold <= 1.0:
            raise ModuleConfigError("modules.voice.hold_threshold is a speech probability: above 0, at most 1")
        if parsed.wake_window_s < 0:
            raise ModuleConfigError("modules.voice.wake_window_s must not be negative")
        if parsed.speaker_wait_s < 0:
            raise ModuleConfigError("modules.voice.speaker_wait_s must not be negative (0 never asks)")
        if not 0.0 <= parsed.prepared_lead_s <= 0.2:
            raise ModuleConfigError("modules.voice.prepared_lead_s is 0 (at the close) to 0.2 s before it")
        if parsed.input_file and not parsed.writes_file:
            raise ModuleConfigError(
                "modules.voice.input_file: a file-driven microphone needs replies written to a file "
                "(set modules.voice.output to a WAV path)"
            )
        return parsed

    def asr_options(self) -> AsrOptions:
        return AsrOptions(
            model=self.whisper_model, language=self.language or None, threads=self.threads, beam_size=self.beam_size
        )

    def vad_options(self) -> VadOptions:
        return VadOptions(self.vad_threshold, self.vad_min_speech_s, self.vad_min_silence_s, self.vad_pad_s)

    def endpoint_options(self) -> EndpointOptions:
        return EndpointOptions(
            threshold=self.vad_threshold,
            prosodic=self.end_of_turn != "fixed",
            end_silence_s=self.end_silence_s,
            min_silence_s=self.min_silence_s,
            max_silence_s=self.max_silence_s,
            max_turn_s=self.max_turn_s,
            model_threshold=self.model_threshold,
            sure_silence_s=self.sure_silence_s,
        )

    def device(self, which: str) -> str | None:
        """The configured ``input``/``output`` device name, or None for the default."""
        return getattr(self, f"{which}_device") or None

    @property
    def writes_file(self) -> bool:
        """True when replies go to the WAV file ``output`` rather than the speaker."""
        return self.output != "device"
