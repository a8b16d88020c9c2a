"""The ``info`` answer to ``describe``: the ASR and the TTS program, with the model and the
voice the running modules use.

Which engine, which weights and whether they are here come from the modules themselves,
the way ``run.py models`` learns them (``Module.engines(options)``: the rows marked
``default`` are the ones in use); the voice's name is the one the speaking module announced
on the bus (``voice.profile``). Languages are what those engines can do: an English-only
Whisper model (``*.en``) hears English; a multilingual one the configured ``language``, or
every language Whisper knows; a Piper voice speaks the language its ``.onnx.json`` names.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from wyoming.asr import Transcribe
from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice
from wyoming.tts import SynthesizeVoice

from agent.module import EngineStatus
from agent.parts import VoiceProfile
from agent.plugins import discover
from agent.session import Session

PROGRAM = "scenevoice"
#: who made each engine, and where it is from.
ATTRIBUTIONS = {
    "openai-whisper": Attribution(name="OpenAI", url="https://github.com/openai/whisper"),
    "faster-whisper": Attribution(name="SYSTRAN", url="https://github.com/SYSTRAN/faster-whisper"),
    "piper": Attribution(name="Open Home Foundation", url="https://github.com/OHF-Voice/piper1-gpl"),
    "bark": Attribution(name="Suno", url="https://github.com/suno-ai/bark"),
}
#: the Python package that carries each engine (its version is the model's ``version``).
PACKAGES = {"openai-whisper": "openai-whisper", "faster-whisper": "faster-whisper", "piper": "piper-tts", "bark": None}
OURS = Attribution(name="scenevoice", url="")


def _version(package: str | None) -> str | None:
    try:
        return version(package) if package else None
    except PackageNotFoundError:
        return None


def whisper_languages(model: str, configured: str | None) -> list[str]:
    """The languages a Whisper ``model`` hears as configured: ``["en"]`` for an English-only
    model (``tiny.en``), ``[configured]`` when a language is set, else every language
    Whisper's tokenizer knows (ISO 639-1 codes)."""
    if model.endswith(".en"):
        return ["en"]
    if configured:
        return [configured]
    try:
        from whisper.tokenizer import LANGUAGES
    except ImportError:
        try:
            from faster_whisper.tokenizer import _LANGUAGE_CODES as LANGUAGES
        except ImportError:
            return ["en"]
    return list(LANGUAGES)


def voice_languages(engine: str, where: str, profile: VoiceProfile | None) -> list[str]:
    """The languages a voice speaks: a Piper voice's ``language.code`` (``en_US``) from the
    ``.onnx.json`` beside its model (else the file's name, ``en_US-joe-medium.onnx``); a
    Bark preset's language from its name (``v2/en_speaker_6``). English when neither says."""
    if engine == "piper":
        try:
            code = json.loads(Path(where + ".json").read_text(encoding="utf-8"))["language"]["code"]
            if isinstance(code, str) and code:
                return [code]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        named = re.match(r"^([a-z]{2,3}_[A-Z]{2})-", Path(where).name)
        if named:
            return [named.group(1)]
    elif profile is not None:
        named = re.search(r"(?:^|/)([a-z]{2})_speaker", profile.voice)
        if named:
            return [named.group(1)]
    return ["en"]


def engines_in_use(session: Session) -> tuple[tuple[EngineStatus, dict] | None, tuple[EngineStatus, dict] | None]:
    """The (ASR row, its module's options) and (TTS row, its module's options) that the
    session's running modules use; None for a role no running module fills."""
    plugins = discover()
    asr: tuple[EngineStatus, dict] | None = None
    tts: tuple[EngineStatus, dict] | None = None
    for name in session.modules:
        plugin = plugins.get(name)
        if plugin is None or plugin.cls is None:
            continue
        options = session.config.module_options(name)
        for row in plugin.cls.engines(options):
            if row.default and row.role == "asr" and asr is None:
                asr = (row, options)
            elif row.default and row.role == "tts" and tts is None:
                tts = (row, options)
    return asr, tts


def describe(session: Session, transcript_streaming: bool, synthesize_streaming: bool) -> Info:
    """The server's ``info``: an ASR program with the Whisper model in use and a TTS
    program with the voice in use (either left out when no running module has one)."""
    ours = _version("scenevoice")
    asr_row, tts_row = engines_in_use(session)
    info = Info()
    if asr_row is not None:
        row, options = asr_row
        model = AsrModel(
            name=row.model,
            description=f"Whisper {row.model} ({row.engine}), heard through the scene bus",
            attribution=ATTRIBUTIONS.get(row.engine, OURS),
            installed=row.ready,
            version=_version(PACKAGES.get(row.engine)),
            languages=whisper_languages(row.model, str(options.get("language") or "") or None),
        )
        info.asr.append(
            AsrProgram(
                name=PROGRAM,
                description="scenevoice's ears: VAD, Whisper, and the speaker's timbre and prosody",
                attribution=OURS,
                installed=True,
                version=ours,
                models=[model],
                supports_transcript_streaming=transcript_streaming,
            )
        )
    if tts_row is not None:
        row, _ = tts_row
        profile = session.voice
        voice = TtsVoice(
            name=profile.voice if profile is not None else row.model,
            description=f"{row.engine} voice {row.model}, spoken on the agent's voice plan",
            attribution=ATTRIBUTIONS.get(row.engine, OURS),
            installed=row.ready,
            version=_version(PACKAGES.get(row.engine)),
            languages=voice_languages(row.engine, row.where, profile),
        )
        info.tts.append(
            TtsProgram(
                name=PROGRAM,
                description="scenevoice's voice: scene → melody → voice (pitch, rhythm, pauses)",
                attribution=OURS,
                installed=True,
                version=ours,
                voices=[voice],
                supports_synthesize_streaming=synthesize_streaming,
            )
        )
    return info


def primary_language(language: str) -> str:
    """``en_US``, ``en-us``, ``en`` → ``en``."""
    return language.replace("-", "_").split("_")[0].lower()


def _covers(languages: list[str], wanted: str) -> bool:
    return primary_language(wanted) in {primary_language(lang) for lang in languages}


def refuse_transcribe(info: Info, transcribe: Transcribe) -> str | None:
    """Why ``info``'s ASR program cannot serve ``transcribe`` (no recogniser, another model
    named, a language its model does not hear, region ignored), or None when it can."""
    models = [model for program in info.asr for model in program.models]
    if not models:
        return "this server has no speech recogniser running"
    if transcribe.name is not None and transcribe.name not in [m.name for m in models]:
        return f"no ASR model {transcribe.name!r} here (this server hears with {', '.join(m.name for m in models)})"
    if transcribe.language and not _covers(models[0].languages, transcribe.language):
        return (
            f"the model {models[0].name} does not hear {transcribe.language!r} "
            f"(it hears {', '.join(models[0].languages[:12])}{' …' if len(models[0].languages) > 12 else ''})"
        )
    return None


def refuse_voice(info: Info, wanted: SynthesizeVoice | None) -> str | None:
    """Why ``info``'s TTS program cannot speak with ``wanted`` (no voice, another voice
    named, a language it does not speak, region ignored), or None when it can."""
    voices = [voice for program in info.tts for voice in program.voices]
    if not voices:
        return "this server has no voice running"
    if wanted is None:
        return None
    if wanted.name is not None and wanted.name not in [v.name for v in voices]:
        return f"no voice {wanted.name!r} here (this server speaks with {', '.join(v.name for v in voices)})"
    if wanted.language is not None and not _covers(voices[0].languages, wanted.language):
        return f"the voice {voices[0].name} does not speak {wanted.language!r} ({', '.join(voices[0].languages)})"
    return None
