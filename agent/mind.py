"""The mind: compresses what it hears, unfolds it, remembers, and answers in the same field.

"90 % rules and Python" (seed 000 §16, seed 004 §11). Each heard ``turn`` (or the ``fused``
scene of it and what the other channels perceived within ``fusion_window_s``,
``agent/fusion.py``) is

1. **compressed** (``agent/compress.py``) into a ``mind``/``thought`` scene: a core of 1–4
   lemmas by salience, a mode from the voice and the words, the register it unfolds in, the
   topic it continues (``context``), its ``trust`` (``anchor`` once its node is confirmed,
   ``agent/trust.py``) and the Δ-code it instantiates (``delta``);
2. **unfolded** (``agent/unfold.py``) into 3–7 ``mind``/``subscene`` scenes — figure,
   tension, background, anchor, memory, archetype, question — each with a rhythm phase and
   a register, found in the core, in remembered turns like it, in Δ-code templates and in
   the mood;
3. **felt**: the field of mood (``agent/mood.py``) moves with the turn's words and voice
   and decays between turns;
4. **answered** (``agent/converse.py``): a ``reply`` that converses from what the mind
   knows — the session, the user's facts, the time, its own state, how the user sounded —
   and asks about the unfolded figure; its voice plan follows the speaker (the melody
   planner) and the mood picks the manner (``[mood_manner]``: after a tense exchange the
   same words are said lower, slower and softer);
5. **remembered** (``agent/mindstore.py``, SQLite): the turn's lemmas, its nodes'
   confirmations, and the Δ-codes that freeze on them (``agent/deltas.py``, PMI).

The fused scene, the thought and its sub-scenes are published, then the reply (which names
the thought among its parents); then the turn is remembered, on a thread of its own that
runs nicer than the rest (``agent/background.py``): nothing waits for it but the next turn,
which reads the store once it is done. A name or fact a memory module
announces from an earlier session (``memory``/``fact`` or ``recall`` scenes) is known from
then on.
``memory.forget`` erases the mind's file too (answered with a ``mind``/``done`` scene).

A ``turn.draft`` (the turn as it stands at a pause the listener doubts is its end) is
answered with a ``reply.draft``: the reply the turn would get, composed on copies of the
session and the mood and written nowhere, so that nothing is remembered of a draft; the
voice module realises it ahead and plays it if the ``turn`` follows as drafted (then
answered the same way, for real). With a language model, drafts are not answered: its
wording cannot be drafted word for word, and its reply streams instead.

With a language model (``[modules.mind.llm]``, ``agent/llm/``), a reply whose act the model
may word (:data:`WORDED_ACTS`) and that carries nothing the scene machinery found is
reworded by it and streams: the first sentence is the ``reply`` (``piece`` 0), each next one
a ``reply.more``, and the last piece ends it; no fit first sentence in time, or a server
that fails, and the rule reply is published instead, with a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from agent.background import yield_cpu
from agent.bus import SceneBus
from agent.compress import compress
from agent.converse import MAX_ECHO_WORDS, SessionMemory, clip_words, compose
from agent.deltas import Cooccurrence, DeltaCode, apply_codes
from agent.errors import ScenevoiceError
from agent.facts import KINDS, Fact
from agent.fusion import Fusion, noticed
from agent.lexicon import content_lemmas, text_lexemes
from agent.llm.bundled import BundledServer
from agent.llm.client import ModelClient
from agent.llm.options import BUNDLED, LLMOptions
from agent.llm.prompt import messages
from agent.llm.wording import stream_reply
from agent.melody import FieldRule, mood_manner, plan_voice
from agent.mindstore import MindStore, MindStoreError, Node, PastTurn
from agent.module import Module, ModuleConfigError
from agent.mood import Mood
from agent.parts import Result, VoiceProfile
from agent.paths import data_dir
from agent.scene import Scene
from agent.trust import nodes_of, trust_of
from agent.unfold import unfold

log = logging.getLogger(__name__)

STORE_NAME = "mind.sqlite3"
#: the mind's own options (the rest are the melody's FieldRule).
_OPTIONS = {
    "store": "",
    "anchor_confirmations": 3,
    "delta_min_count": 3,
    "delta_min_pmi": 1.0,
    "mood_half_life_s": 180.0,
    "fusion_window_s": 10.0,
}


def warm_up() -> None:
    """Compress, unfold and answer one sentence, so that every table the mind reads is loaded."""
    heard = Scene(channel="voice", kind="turn", text="The children were walking the dogs in the rain.")
    compressed = compress(heard)
    compose(heard, compressed, unfold(heard, compressed), SessionMemory(), Mood(), datetime.now())


def names_in(text: str) -> list[str]:
    """The names a reply says (words written with a capital inside a sentence), which a
    rewording must keep: "Hello, Tomas. How are you?" → ["Tomas"]."""
    return sorted({m for m in re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+\b", text.strip())})


#: the acts a language model words anew; the others (a name, a fact, what was said, the
#: time, what the mind knows) are said as the rules put them: a small model mangles facts.
WORDED_ACTS = frozenset({"statement", "question", "greeting", "self", "farewell", "thanks", "backchannel"})

__all__ = ["MAX_ECHO_WORDS", "WORDED_ACTS", "Mind", "SessionMemory", "clip_words"]


class Mind(Module):
    """The rule mind: compresses, unfolds, feels, answers and remembers each heard turn.

    Options (``[modules.mind]``): ``store`` (the SQLite file; ``""`` → ``<data dir>/mind.sqlite3``,
    ``":memory:"`` keeps nothing), ``anchor_confirmations``, ``delta_min_count``,
    ``delta_min_pmi`` (bits), ``mood_half_life_s``, ``fusion_window_s``, and the melody's
    ``follow_speaker``, ``pull``, ``max_shift_st``, ``max_rate_change``.

    Raises:
        ModuleConfigError: an unknown option or a wrong value.
    """

    name = "mind"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        o = dict(self.options)
        if "voice" in o:
            raise ModuleConfigError(
                "modules.mind.voice is gone: the voice module announces the voice it "
                "speaks with; choose it with modules.voice.voice"
            )
        own = {k: o.pop(k, default) for k, default in _OPTIONS.items()}
        if not isinstance(o.get("llm", {}), dict):
            raise ModuleConfigError("modules.mind.llm must be a table ([modules.mind.llm])")
        self.llm_options = LLMOptions.parse(o.pop("llm", {}))
        try:
            self.fusion = Fusion(float(own["fusion_window_s"]))
            self.anchor_confirmations = int(own["anchor_confirmations"])
            self.delta_min_count = int(own["delta_min_count"])
            self.delta_min_pmi = float(own["delta_min_pmi"])
            half_life_s = float(own["mood_half_life_s"])
            if half_life_s <= 0 or self.anchor_confirmations < 1 or self.delta_min_count < 2:
                raise ValueError("mood_half_life_s > 0, anchor_confirmations ≥ 1 and delta_min_count ≥ 2 are needed")
        except (TypeError, ValueError) as exc:
            raise ModuleConfigError(f"modules.mind: {exc}") from None
        if not isinstance(own["store"], str):
            raise ModuleConfigError(f"modules.mind.store: expected a path, got {own['store']!r}")
        self.store_path = own["store"] or str(data_dir() / STORE_NAME)
        try:
            self.rule = FieldRule(**o)
        except TypeError as exc:
            raise ModuleConfigError(
                f"modules.mind: {exc} (options: {', '.join(_OPTIONS)}, follow_speaker, pull, max_shift_st, "
                "max_rate_change)"
            ) from None
        self.memory = SessionMemory()
        self.mood = Mood(half_life_s=half_life_s)
        #: this session's name in the store: when it began, and a random tag.
        self.session = f"{datetime.now():%Y-%m-%dT%H:%M:%S}-{uuid.uuid4().hex[:8]}"
        self.store: MindStore | None = None
        #: lemmas of what memory announced (facts), for the context of a scene.
        self.known: set[str] = set()
        #: the voice replies are planned for, as the speaking module last announced it.
        self.voice: VoiceProfile | None = None
        #: the language model that words replies (None: the rules word them).
        self.llm: ModelClient | None = None
        #: remembers each turn after its reply is out, off the event loop (the store's
        #: write and the Δ-code mining); and the last such job, which the store's next user
        #: waits for.
        self._background: ThreadPoolExecutor | None = None
        self._remembering: asyncio.Future[None] | None = None
        #: the kept turns' lemma counts for the mining, kept up to date turn by turn (on the
        #: remembering thread only).
        self._counts = Cooccurrence()
        self.server: BundledServer | None = None

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        self._background = ThreadPoolExecutor(1, thread_name_prefix="mind-remember", initializer=yield_cpu)
        try:
            self.store = MindStore(self.store_path)
        except MindStoreError as exc:  # the mind answers without its long memory
            log.error("mind: %s; answering without remembering across sessions", exc)
            self.store = MindStore(":memory:")
        # The lemma, word-class and sentiment tables load on first use (~1 s): now, not on
        # the first turn.
        await asyncio.to_thread(warm_up)
        if self.llm_options.url:
            await self._start_model()

    async def _start_model(self) -> None:
        o = self.llm_options
        try:
            url, key = o.url, None
            if url == BUNDLED:
                self.server = BundledServer(o.threads, o.batch_threads)
                url = await asyncio.to_thread(self.server.start)
                key = self.server.api_key
            self.llm = ModelClient(url, o, key)
            await self.llm.warm()
        except (ScenevoiceError, OSError) as exc:  # the rules answer
            log.error("mind: no language model (%s); the rules word every reply", exc)
            if self.server is not None:
                await asyncio.to_thread(self.server.stop)
            self.server, self.llm = None, None

    async def stop(self) -> None:
        if self.llm is not None:
            with contextlib.suppress(Exception):
                await self.llm.close()
        if self.server is not None:
            await asyncio.to_thread(self.server.stop)
        await self._remembered()
        if self._background is not None:
            self._background.shutdown(wait=True)
        if self.store is not None:
            self.store.close()

    def wants(self, scene: Scene) -> bool:
        if self.fusion.wants(scene):
            return True
        if scene.channel == "memory" and scene.kind in ("fact", "recall"):
            return scene.context in KINDS and bool(scene.text)
        if scene.kind == "memory.forget":
            return True
        return scene.kind in ("turn", "turn.draft") or (scene.kind == "voice.profile" and scene.voice is not None)

    async def handle(self, scene: Scene) -> None:
        if scene.kind == "voice.profile":
            self.voice = scene.voice
            return
        if scene.kind == "memory.forget":
            await self._forget(scene)
            return
        if scene.channel == "memory":  # a fact remembered from an earlier session
            self._learn(scene)
            return
        if self.fusion.wants(scene):
            self.fusion.keep(scene)
            return
        if not (scene.text or "").strip():
            return
        await self._answer(scene)

    def _learn(self, scene: Scene) -> None:
        kind, value = scene.context or "", (scene.text or "").strip()
        relation = scene.lexemes[1] if kind == "person" and len(scene.lexemes) > 1 else ""
        if kind == "name":
            if self.memory.name is None:  # the user's own word this session wins
                self.memory.name = value[:1].upper() + value[1:]
        else:
            self.memory.learn(Fact(scene.speaker or "user", kind, relation, value))
        self.known.update(content_lemmas(value, scene.language))

    async def _answer(self, heard: Scene) -> None:
        # A draft is answered as the turn would be, committing nothing: the session's memory
        # and the mood are copies, nothing is stored, and no thought is published.
        draft = heard.kind == "turn.draft"
        if draft and self.llm is not None:
            return  # a model's wording cannot be drafted word for word: the reply streams instead
        await self._remembered()  # the last turn is in the store before this one reads it
        memory = copy.deepcopy(self.memory) if draft else self.memory
        mood = copy.deepcopy(self.mood) if draft else self.mood
        store = self.store or MindStore(":memory:")
        fused = self.fusion.fuse(heard)
        scene = fused or heard
        earlier = [c.split("+") for c in memory.cores]
        compressed = compress(scene, earlier=earlier, known=self.known)
        mood.feel(scene.text, scene.sound, time.time(), earlier=memory.sounds, mode=compressed.mode)
        lemmas = compressed.lemmas
        codes: list[DeltaCode] = []
        core_node: Node | None = None
        anchors: set[str] = set()
        similar: list[tuple[PastTurn, float]] = []
        try:
            codes = store.codes()
            if lemmas:
                # as they stand with this turn counted
                core_node = store.node(lemmas).heard_in(self.session)
                for w in lemmas:
                    n = store.node([w]).heard_in(self.session)
                    if trust_of(1, n.confirmations, n.sessions, self.anchor_confirmations) == "anchor":
                        anchors.add(w)
                similar = store.similar(compressed.weights)
        except MindStoreError as exc:
            log.error("mind: %s; answering without what it remembers", exc)
        present = [c.code for c in codes if c.code in apply_codes(lemmas, codes)]
        thought = scene.derive(
            channel="mind",
            kind="thought",
            core=compressed.core,
            lexemes=list(compressed.weights)[:12],
            mode=compressed.mode,
            context=compressed.context,
            register=compressed.register,
            language=scene.language,
            speaker=scene.speaker,
            trust=trust_of(len(lemmas), core_node.confirmations, core_node.sessions, self.anchor_confirmations)
            if core_node
            else "hypothesis",
            delta=present[-1] if present else None,
            source=self.name,
        )
        subs = unfold(thought, compressed, similar=similar, codes=codes, anchors=anchors, mood=mood)
        text, act = compose(scene, compressed, subs, memory, mood, datetime.now())
        if fused is not None and act == "statement":
            text = f"{text} {noticed(fused)}".strip()
        reply = scene.derive(
            channel="voice",
            kind="reply.draft" if draft else "reply",
            # a reply to a fused scene names the turn too: it is the turn that awaits it
            parents=[heard.id] if draft else [scene.id, thought.id, *([heard.id] if fused is not None else [])],
            text=text,
            core=compressed.core,
            lexemes=text_lexemes(text),
            mode=compressed.mode,
            act=act,
            register=compressed.register,
            language=scene.language,
            source=self.name,
        )
        if self.voice is not None:
            reply.plan = plan_voice(reply, scene.sound, own=self.voice, rule=self.rule, manner=mood_manner(mood.label))
        if not draft:
            if fused is not None:
                await self.publish(fused)
            await self.publish(thought)
            for sub in subs:
                await self.publish(sub)
        worded = False
        if self.llm is not None and self.llm.ready and act in WORDED_ACTS and not memory.carries and not draft:
            said = messages(scene, compressed, subs, memory, mood, text)
            worded = await stream_reply(
                self.llm,
                reply,
                self.llm.sentences(said, memory.name, names_in(text), min(compressed.valence, mood.valence)),
                lambda piece: self._planned(piece, scene, mood),
                self.publish,
            )
        if not worded:
            await self.publish(reply)
        if not draft and lemmas:
            if self._background is None:  # not started (a test's mind): at once
                self._remember(scene, thought, compressed.weights, lemmas)
            else:  # nobody waits for it: the reply is out; the next reader waits (_remembered)
                self._remembering = asyncio.get_running_loop().run_in_executor(
                    self._background, self._remember, scene, thought, compressed.weights, lemmas
                )

    async def _remembered(self) -> None:
        """Wait until the last turn handed to :meth:`_remember` is in the store. A failure
        there is logged (a store error by :meth:`_remember` itself, anything else here): it
        cost that turn's remembering, not this turn's answer."""
        remembering, self._remembering = self._remembering, None
        if remembering is not None:
            try:
                await remembering
            except Exception:
                log.exception("mind: remembering the last turn failed; it is not remembered")

    def _planned(self, reply: Scene, heard: Scene, mood: Mood) -> Scene:
        if self.voice is not None:
            reply.plan = plan_voice(reply, heard.sound, own=self.voice, rule=self.rule, manner=mood_manner(mood.label))
        return reply

    def _remember(self, scene: Scene, thought: Scene, weights: dict[str, float], lemmas: list[str]) -> None:
        store = self.store
        if store is None:
            return
        try:
            store.remember_turn(
                session=self.session,
                wall=thought.wall_start,
                scene_id=scene.id,
                speaker=scene.speaker,
                weights={w: weights[w] for w in lemmas},
                nodes=nodes_of(lemmas),
            )
            self._counts.sync([(t.id, t.weights) for t in store.turns()], store.codes())
            new = self._counts.mine(min_count=self.delta_min_count, min_pmi=self.delta_min_pmi)
            if new:
                store.remember_codes(new, thought.wall_start)
                for code in new:
                    log.info("mind: froze %s (seen %d times, PMI %.2f bits)", code.formula, code.count, code.pmi)
        except MindStoreError as exc:
            log.error("mind: %s; this turn is not remembered", exc)

    async def _forget(self, request: Scene) -> None:
        await self._remembered()  # a turn being remembered is erased too
        erased = 0
        if self.store is not None:
            try:
                erased = self.store.forget(request.speaker)
            except MindStoreError as exc:
                log.error("mind: %s", exc)
        if request.speaker is None:
            self.memory = SessionMemory()
            self.mood = Mood(half_life_s=self.mood.half_life_s)
            self.known.clear()
        await self.publish(request.derive(channel="mind", kind="done", result=Result(count=erased), source=self.name))
