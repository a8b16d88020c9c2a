"""VoiceModule: the voice channel on the bus — it listens and it speaks.

Scenes it handles:

``listen.file`` (``source`` = a path)
    publishes one ``utterance`` per stretch of speech (or one ``sound``/``silence``),
    then ``done``.
``listen.turn`` (``source`` = a path)
    publishes the whole file as one heard ``turn`` (for the mind to answer), or an
    ``error`` with reason ``input.no-speech``.
``listen.live``
    opens the microphone, publishes ``listening``, then one ``turn`` per finished turn,
    half-duplex: it does not listen while it waits for or speaks a reply.
``reply`` (channel ``voice``)
    plans (if the reply has no plan), synthesises with the plan's engine (Piper or Bark),
    imposes the plan (``realiser``), plays or writes the audio, measures it with the same
    analyser that reads the user, and publishes ``spoken`` with plan, sound and fidelity.
    A reply without words is a sigh, a hum, a breath or a silence.
``plot`` (``source`` = a spoken scene's JSON file, ``context`` = the PNG to write)
    draws the plan against the measured pitch and level; publishes ``done``.

Every failure a user can cause (bad file, no device, missing weights) becomes an
``error`` scene with a clear message; the module keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.bus import error_scene
from agent.codec import SchemaError, from_dict
from agent.melody import plan_voice
from agent.module import EngineStatus, Module, ModuleConfigError
from agent.paths import ASSETS, cache_dir
from agent.scene import Hop, Scene
from agent.voiceplan import VoicePlan
from modules.voice.asr.engines import ENGINES, AsrEngine, AsrOptions, Transcript, make_engine
from modules.voice.io.audio import (ASR_RATE_HZ, AudioError, OutputPathError, check_wav_path, load_audio, resample,
                                 voices, write_wav)
from modules.voice.io.devices import DeviceError, Microphone, Speaker
from modules.voice.listen.endpoint import EndpointOptions, TurnDetector
from modules.voice.listen.hearing import hear, to_scene
from modules.voice.tts.bark.imports import BarkMissing
from modules.voice.tts.bark.models import BarkWeightsMissing
from modules.voice.tts.piper import PiperTTS, VoiceMissing, piper_voices
from modules.voice.speak.voicing import SpeechEngine, Voiced, Voicing
from modules.voice.listen.vad import SileroVAD, VadOptions
from modules.voice.asr.weights import (WeightsMissing, faster_whisper_status,
                                           openai_checkpoint, openai_checkpoint_status)

log = logging.getLogger(__name__)

SPEECH_ENGINES = ("auto", "piper", "bark")
#: Bark's precisions (tts.bark.fast.PRECISIONS; anything but float32 is lossy and opt-in).
BARK_PRECISIONS = ("float32", "bfloat16", "int8")

#: how long the microphone stays deaf waiting for the reply to a turn before listening again.
REPLY_WAIT_S = 60.0
#: real speech the live loop hears once before it listens, so the first turn is not slow.
WARM_UP_AUDIO = ASSETS / "audio" / "jfk.flac"


def _import_analysis_libraries() -> None:
    """librosa's first import costs ~2.3 s here (scipy.signal, numba); do it off the path."""
    import librosa.feature  # noqa: F401
    import librosa.onset  # noqa: F401


@dataclass
class VoiceOptions:
    """``[modules.voice]`` in the config (see ``assets/config.toml`` for each option)."""

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
    output_device: str = ""
    lead_silence_s: float = 0.1
    vad_threshold: float = 0.5
    vad_min_speech_s: float = 0.25
    vad_min_silence_s: float = 0.3
    vad_pad_s: float = 0.1
    end_of_turn: str = "words"
    end_silence_s: float = 0.8
    min_silence_s: float = 0.35
    max_silence_s: float = 1.2
    max_turn_s: float = 20.0
    echo_tail_s: float = 0.3

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> VoiceOptions:
        """Raises ModuleConfigError naming the option and the fix."""
        try:
            parsed = from_dict(cls, dict(options), "modules.voice")
        except SchemaError as exc:
            raise ModuleConfigError(str(exc)) from None
        if parsed.asr not in ENGINES:
            raise ModuleConfigError(f"modules.voice.asr = {parsed.asr!r}: choose {' or '.join(ENGINES)}")
        if parsed.end_of_turn not in ("words", "prosody", "fixed"):
            raise ModuleConfigError(f"modules.voice.end_of_turn = {parsed.end_of_turn!r}: "
                                    "choose words, prosody or fixed")
        if parsed.channels not in ("auto", "mix", "split"):
            raise ModuleConfigError(f"modules.voice.channels = {parsed.channels!r}: choose auto, mix or split")
        if parsed.tts not in SPEECH_ENGINES:
            raise ModuleConfigError(f"modules.voice.tts = {parsed.tts!r}: choose {', '.join(SPEECH_ENGINES)}")
        if parsed.bark_size not in ("small", "full"):
            raise ModuleConfigError(f"modules.voice.bark_size = {parsed.bark_size!r}: choose small or full")
        if parsed.bark_precision not in BARK_PRECISIONS:
            raise ModuleConfigError(f"modules.voice.bark_precision = {parsed.bark_precision!r}: "
                                    f"choose {', '.join(BARK_PRECISIONS)} (anything but float32 is lossy)")
        return parsed

    def asr_options(self) -> AsrOptions:
        return AsrOptions(model=self.whisper_model, language=self.language or None,
                          threads=self.threads, beam_size=self.beam_size)

    def vad_options(self) -> VadOptions:
        return VadOptions(self.vad_threshold, self.vad_min_speech_s, self.vad_min_silence_s, self.vad_pad_s)

    def endpoint_options(self) -> EndpointOptions:
        return EndpointOptions(threshold=self.vad_threshold, prosodic=self.end_of_turn != "fixed",
                               end_silence_s=self.end_silence_s, min_silence_s=self.min_silence_s,
                               max_silence_s=self.max_silence_s, max_turn_s=self.max_turn_s)

    def device(self, which: str) -> str | None:
        return getattr(self, f"{which}_device") or None


class VoiceModule(Module):
    """VoiceModule: hears speech (VAD, Whisper, timbre) and speaks planned replies (Piper or Bark)."""

    name = "voice"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = VoiceOptions.parse(self.options)
        self._asr: AsrEngine | None = None
        self._vad: SileroVAD | None = None
        self._tts: dict[str, PiperTTS] = {}
        self._bark = None
        self._live_task: asyncio.Task | None = None
        self._warm_task: asyncio.Task | None = None
        self._deaf_until = 0.0
        self._awaiting: set[str] = set()

    # --- engines, loaded once and on first use ----------------------------------------------

    def asr(self) -> AsrEngine:
        if self._asr is None:
            self._asr = make_engine(self.o.asr, self.o.asr_options(), cache_dir())
        return self._asr

    def vad(self) -> SileroVAD:
        if self._vad is None:
            self._vad = SileroVAD(self.o.vad_options())
        return self._vad

    def tts(self, voice: str) -> PiperTTS:
        if voice not in self._tts:
            voices = piper_voices()
            if voice not in voices:
                raise VoiceMissing(f"no Piper voice {voice!r} in assets/voices.toml "
                                   f"(known: {', '.join(voices)})")
            self._tts[voice] = PiperTTS(voices[voice])
        return self._tts[voice]

    def engine_name(self, plan: VoicePlan) -> str:
        """The engine that speaks ``plan``: the plan's choice, else the config's; ``auto`` is
        Bark when its weights are here and a GPU runs them, else Piper."""
        wanted = plan.engine or self.o.tts
        if wanted != "auto":
            return wanted
        import torch

        from modules.voice.tts.bark.models import weights_status

        bark_ready = all(present for _, _, present in weights_status(self.o.bark_size))
        return "bark" if bark_ready and torch.cuda.is_available() else "piper"

    def engine(self, name: str) -> SpeechEngine:
        """A loaded engine (once). Raises BarkWeightsMissing / BarkMissing / VoiceMissing."""
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
        raise ValueError(f"unknown speech engine {name!r}")

    # --- bus ----------------------------------------------------------------------------------

    def wants(self, scene: Scene) -> bool:
        if scene.kind in ("listen.file", "listen.turn", "listen.live", "plot"):
            return True
        if scene.kind == "reply":
            return scene.channel == "voice"
        # An error about a turn we await means no reply will come: listen again.
        return scene.kind == "error" and bool(self._awaiting.intersection(scene.parents))

    async def handle(self, scene: Scene) -> None:
        if scene.kind in ("listen.file", "listen.turn"):
            await self._listen_file(scene, one_turn=scene.kind == "listen.turn")
        elif scene.kind == "listen.live":
            if self._live_task is None or self._live_task.done():
                self._live_task = asyncio.create_task(self._live(scene), name="voice:live")
        elif scene.kind == "reply":
            await self._reply(scene)
        elif scene.kind == "plot":
            await self._plot(scene)
        elif scene.kind == "error":
            self._awaiting.difference_update(scene.parents)
            self._deaf_until = time.monotonic()

    async def start(self, bus) -> None:
        await super().start(bus)
        self._warm_task = asyncio.create_task(asyncio.to_thread(_import_analysis_libraries),
                                              name="voice:warm")

    async def stop(self) -> None:
        if self._live_task is not None:
            self._live_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._live_task
        if self._warm_task is not None:
            with contextlib.suppress(Exception):
                await self._warm_task  # a thread cannot be cancelled; it ends on its own

    def _warm_up(self) -> None:
        """Load every engine and run the listening pipeline once on real speech: the first
        call of openai-whisper's word timing compiles, and librosa imports slowly."""
        self.tts(self.o.voice)
        audio = load_audio(WARM_UP_AUDIO)
        samples = resample(audio.mono(), audio.rate_hz, ASR_RATE_HZ)[: 3 * ASR_RATE_HZ]
        for heard in hear(samples, self.vad().segments(samples), self.asr(), one_turn=True):
            to_scene(heard, Scene(channel="voice", kind="listen.live"), str(WARM_UP_AUDIO))

    # --- listening ----------------------------------------------------------------------------

    def _hear_file(self, request: Scene, one_turn: bool) -> list[Scene]:
        stages: list[Hop] = []

        def mark(stage: str) -> None:
            stages.append(Hop(f"voice.{stage}", time.time()))

        audio = load_audio(request.source or "")
        if audio.warning:
            log.warning("%s: %s; using the %.2f s that decoded", audio.source, audio.warning, audio.duration_s)
        heard = []
        for speaker, mono in voices(audio, "mix" if one_turn else self.o.channels):
            samples = resample(mono, audio.rate_hz, ASR_RATE_HZ)
            mark("decode")
            speech = self.vad().segments(samples)
            mark("vad")
            heard += hear(samples, speech, self.asr(), one_turn, mark, speaker)
        traced = dataclasses.replace(request, hops=[*request.hops, *stages])
        heard.sort(key=lambda h: (h.t_start, h.speaker or ""))
        return [to_scene(h, traced, audio.source) for h in heard]

    async def _listen_file(self, request: Scene, one_turn: bool) -> None:
        if not request.source:
            await self.publish(error_scene(request, f"{request.kind} needs a file path in 'source'",
                                           "input.missing"))
            return
        try:
            scenes = await asyncio.to_thread(self._hear_file, request, one_turn)
        except AudioError as exc:
            await self.publish(error_scene(request, str(exc), "input.unreadable"))
            return
        except (WeightsMissing, VoiceMissing) as exc:
            await self.publish(error_scene(request, str(exc), "model.missing"))
            return
        for scene in scenes:
            await self.publish(scene)
        if one_turn and scenes[0].kind != "turn":
            what = "it is silent" if scenes[0].kind == "silence" else "only a sound without words"
            await self.publish(error_scene(scenes[0], f"{request.source}: no speech found ({what}); "
                                           "nothing to answer", "input.no-speech"))
        elif one_turn:
            self._awaiting.add(scenes[0].id)
        if not one_turn:
            await self.publish(request.derive(kind="done", channel="voice", source=request.source,
                                              text=f"{len(scenes)} scenes"))

    async def _live(self, request: Scene) -> None:
        try:
            await asyncio.to_thread(self._warm_up)
            detector = TurnDetector(self.o.endpoint_options())
            # A transcript of the speech so far, started when a pause begins: it tells the
            # detector whether the words sound finished, and becomes the turn's transcript
            # when the turn closes in that same pause (no second ASR pass).
            early: tuple[int, asyncio.Task[Transcript]] | None = None
            async with Microphone(self.o.device("input")) as mic:
                await self.publish(request.derive(kind="listening", channel="voice", source=mic.name,
                                                  text=f"listening on {mic.name}"))
                async for frame in mic.frames():
                    if self._awaiting or time.monotonic() < self._deaf_until:
                        if self._awaiting and time.monotonic() > self._deaf_until + REPLY_WAIT_S:
                            self._awaiting.clear()
                        detector.reset()
                        self.vad().reset()
                        early = None
                        continue
                    turn = detector.feed(frame, self.vad().frame_probability(frame))
                    if detector.pause_started and self.o.end_of_turn == "words":
                        audio = detector.speech_so_far()
                        early = (len(audio), asyncio.create_task(asyncio.to_thread(self.asr().transcribe, audio)))
                        detector.expect_text()
                    if early is not None and early[1].done() and turn is None:
                        if early[1].exception() is None:
                            detector.judge_text(early[1].result().text)
                    if turn is None:
                        continue
                    transcript = None
                    if early is not None and early[0] == turn.speech_end_sample:
                        with contextlib.suppress(Exception):  # on failure: transcribe afresh
                            transcript = await early[1]
                    early = None
                    scene = await asyncio.to_thread(self._hear_live_turn, turn.samples, request, mic.name,
                                                    turn.t_start, transcript)
                    if scene is not None:
                        self._awaiting.add(scene.id)
                        self._deaf_until = time.monotonic()
                        await self.publish(scene)
        except DeviceError as exc:
            await self.publish(error_scene(request, str(exc), "device.missing"))
        except (WeightsMissing, VoiceMissing) as exc:
            await self.publish(error_scene(request, str(exc), "model.missing"))
        except Exception as exc:  # a background task must not die in silence
            log.exception("voice: live listening failed")
            await self.publish(error_scene(request, f"live listening failed: {type(exc).__name__}: {exc}",
                                           "module.failed"))

    def _hear_live_turn(self, samples: np.ndarray, request: Scene, source: str, t_offset_s: float,
                        transcript: Transcript | None = None) -> Scene | None:
        stages = [Hop("voice.endpoint", time.time())]
        speech = self.vad().segments(samples)
        stages.append(Hop("voice.vad", time.time()))
        heard = hear(samples, speech, self.asr(), True,
                     lambda stage: stages.append(Hop(f"voice.{stage}", time.time())), transcript=transcript)[0]
        if heard.kind != "turn":
            log.info("live: a %s without words; not a turn", heard.kind)
            return None
        return to_scene(heard, dataclasses.replace(request, hops=[*request.hops, *stages]), source, t_offset_s)

    # --- speaking -----------------------------------------------------------------------------

    def _voice(self, reply: Scene, plan: VoicePlan, mark) -> Voiced:
        """Render the reply with the engine ``plan.engine`` names (see :meth:`_speak`); on
        the device each sentence plays while the next is realised. Marks ``tts.first`` (the
        first sound is ready) and ``played`` (all heard or written)."""
        engine = self.engine(plan.engine or self.engine_name(plan))
        voicing = Voicing(engine)
        text = reply.text or ""
        if self.o.output != "device":
            voiced = voicing.render(text, plan)
            mark("tts.first")
            write_wav(self.o.output, voiced.samples, voiced.rate_hz)
            mark("played")
            return voiced
        pieces: list[np.ndarray] = []
        lead = np.zeros(int(self.o.lead_silence_s * engine.rate_hz), np.float32)
        with Speaker(engine.rate_hz, self.o.device("output")) as speaker:
            for i, piece in enumerate(voicing.sentences(text, plan)):
                if i == 0:
                    mark("tts.first")
                    speaker.play(lead)
                speaker.play(piece)
                pieces.append(piece)
        mark("played")
        return voicing.finish(pieces, text, plan)

    def _speak(self, reply: Scene) -> Scene:
        stages: list[Hop] = []

        def mark(stage: str) -> None:
            stages.append(Hop(f"voice.{stage}", time.time()))

        if self.o.output != "device":
            check_wav_path(self.o.output)  # before any synthesis is spent on it
        plan = reply.plan or plan_voice(reply, voice=self.o.voice)
        # The spoken scene's own plan names the engine that spoke; the reply's plan is left
        # as it was published (other readers hold it too).
        plan = dataclasses.replace(plan, engine=self.engine_name(plan))
        voiced = self._voice(reply, plan, mark)
        mark("measure")
        return reply.derive(kind="spoken", channel="voice", text=reply.text, core=reply.core,
                            lexemes=reply.lexemes, mode=reply.mode, context=reply.context,
                            register=reply.register, language=reply.language, plan=plan, sound=voiced.sound,
                            fidelity=voiced.fidelity,
                            source=self.o.output if self.o.output != "device" else "speaker",
                            t_start=0.0, t_end=round(len(voiced.samples) / voiced.rate_hz, 3),
                            hops=[*reply.hops, *stages])

    async def _reply(self, reply: Scene) -> None:
        awaited = self._awaiting.intersection(reply.parents)
        try:
            spoken = await asyncio.to_thread(self._speak, reply)
        except DeviceError as exc:
            await self.publish(error_scene(reply, str(exc), "device.missing"))
            return
        except OutputPathError as exc:
            await self.publish(error_scene(reply, f"cannot write {exc}", "input.output_path"))
            return
        except OSError as exc:
            await self.publish(error_scene(reply, f"cannot write {self.o.output}: {exc}", "output.unwritable"))
            return
        except (WeightsMissing, VoiceMissing, BarkWeightsMissing, BarkMissing) as exc:
            await self.publish(error_scene(reply, str(exc), "model.missing"))
            return
        finally:
            if awaited:
                self._awaiting.difference_update(awaited)
                self._deaf_until = time.monotonic() + self.o.echo_tail_s
        await self.publish(spoken)

    # --- plots --------------------------------------------------------------------------------

    @staticmethod
    def _plotted(request: Scene) -> Path:
        """Read the spoken scene, find its audio beside it, draw. The audio is the WAV of the
        same name next to the JSON (what ``run.py say`` writes), or the scene's ``source``
        if that resolves inside the JSON's folder: a path from a file never leads elsewhere.

        Raises:
            OSError, ValueError (SceneError), AudioError: unreadable or unusable input.
        """
        from modules.voice.speak.plot import plot_scene

        json_path = Path(request.source or "")
        spoken = Scene.from_json(json_path.read_text(encoding="utf-8"))
        folder = json_path.resolve().parent
        audio = json_path.with_suffix(".wav")
        if not audio.is_file() and spoken.source:
            candidate = (folder / spoken.source).resolve()
            if candidate.is_relative_to(folder):
                audio = candidate
        if not audio.is_file():
            raise ValueError(f"{json_path}: no audio beside it ({json_path.with_suffix('.wav').name})")
        spoken.source = str(audio)
        png = Path(request.context) if request.context else json_path.with_suffix(".png")
        return plot_scene(spoken, png)

    async def _plot(self, request: Scene) -> None:
        try:
            png = await asyncio.to_thread(self._plotted, request)
        except (OSError, ValueError, AudioError) as exc:
            await self.publish(error_scene(request, f"cannot plot {request.source}: {exc}", "input.unreadable"))
            return
        await self.publish(request.derive(kind="done", channel="voice", source=str(png), text=f"plot {png}"))

    # --- models -------------------------------------------------------------------------------

    @classmethod
    def engines(cls, options: Mapping[str, Any]) -> list[EngineStatus]:
        o = VoiceOptions.parse(options)
        cache = cache_dir()
        rows: list[EngineStatus] = []
        for engine, status in (("openai-whisper", openai_checkpoint_status),
                               ("faster-whisper", faster_whisper_status)):
            try:
                ready, where, detail = status(o.whisper_model, cache)
            except ImportError as exc:
                ready, where, detail = False, "-", f"{engine} is not installed ({exc})"
            rows.append(EngineStatus("asr", engine, o.whisper_model, o.asr == engine, ready, where, detail))
        try:
            import silero_vad

            vad_path = Path(silero_vad.__file__).parent / "data" / "silero_vad.onnx"
            rows.append(EngineStatus("vad", "silero-vad", "silero_vad.onnx", True, vad_path.is_file(),
                                     str(vad_path), "bundled with the silero-vad package"))
        except ImportError:
            rows.append(EngineStatus("vad", "silero-vad", "silero_vad.onnx", True, False, "-",
                                     "pip install silero-vad"))
        bark_used = o.tts == "bark"
        if o.tts == "auto":
            import torch

            from modules.voice.tts.bark.models import weights_status

            bark_used = torch.cuda.is_available() and all(p for _, _, p in weights_status(o.bark_size))
        for name, voice in piper_voices().items():
            try:
                where, ready, detail = str(voice.model_path()), True, "Piper voice"
            except VoiceMissing as exc:
                where, ready, detail = "-", False, str(exc)
            rows.append(EngineStatus("tts", "piper", name, o.voice == name and not bark_used, ready, where, detail))
        from modules.voice.tts.bark.models import bark_dir, weights_status

        for size in ("small", "full"):
            status = weights_status(size)
            missing = [str(path) for _, path, present in status if not present]
            detail = ("weights in bark's cache" if not missing else
                      f"missing {len(missing)} files; downloaded from suno/bark on first use when online"
                      + ("" if o.tts == "bark" else " (tts = auto uses Bark only with its weights and a GPU)"))
            rows.append(EngineStatus("tts", "bark", f"{size} ({o.bark_precision})",
                                     bark_used and o.bark_size == size, not missing, str(bark_dir()), detail))
        return rows

    @classmethod
    def prepare(cls, options: Mapping[str, Any]) -> None:
        """Convert the configured Whisper model for openai-whisper once (cached)."""
        o = VoiceOptions.parse(options)
        try:
            openai_checkpoint(o.whisper_model, cache_dir())
        except WeightsMissing as exc:
            log.warning("%s", exc)

