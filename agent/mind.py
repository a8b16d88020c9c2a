"""The mind: a small rule-based dialogue policy with a memory of the session.

"90 % by rules and Python": it answers every heard ``turn`` scene with a ``reply`` scene
that says what it understood, remembers the user's name and what was said, and can
recall both later in the session. The reply keeps the heard scene's core, mode and
register (it answers in the same field) and carries the voice plan the melody planner
writes from the speaker's measured voice, anchored to the voice a speaking module
announced (a ``voice.profile`` scene). Before any voice is announced it sends the reply
without a plan, and the speaking module plans it for its own voice. A name a memory module
remembers from an earlier session (a ``memory`` ``fact`` or ``recall`` scene whose context is
``name``) is known from then on, unless the user gives another. A turn heard while other
channels perceived something (a sight, a smell, a gesture within ``fusion_window_s``) is
first fused with them (``agent/fusion.py``) and the fused scene is answered.

A ``turn.draft`` (the turn as it stands at a pause the listener doubts is its end) is
answered with a ``reply.draft``: the reply the turn would get, composed on a copy of the
memory, so that nothing is remembered of a draft; the voice module realises it ahead and
plays it if the ``turn`` follows as drafted (then answered the same way, for real).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.fusion import Fusion, noticed
from agent.lexicon import text_lexemes
from agent.melody import FieldRule, plan_voice
from agent.module import Module, ModuleConfigError
from agent.parts import VoiceProfile
from agent.scene import Scene

MAX_ECHO_WORDS = 24

_NAME_GIVEN = re.compile(r"\b(?:my name is|i am called|i'm called|call me)\s+([A-Za-z][A-Za-z'\-]+)", re.I)
_NAME_ASKED = re.compile(r"\bwhat(?:'s| is) my name\b", re.I)
_RECALL = re.compile(r"\bwhat did i (?:just )?say\b|\brepeat that\b", re.I)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|good (?:morning|afternoon|evening))\b", re.I)
_QUESTION_START = re.compile(
    r"^\s*(?:who|what|when|where|why|how|which|is|are|do|does|did|can|could|will|would)\b", re.I
)


@dataclass
class SessionMemory:
    """What the mind remembers until the session ends."""

    name: str | None = None
    heard: list[str] = field(default_factory=list)
    cores: list[str] = field(default_factory=list)


def _clip_words(text: str, n: int = MAX_ECHO_WORDS) -> str:
    words = text.split()
    clipped = " ".join(words[:n]) + (" …" if len(words) > n else "")
    return clipped.rstrip(" .,;:!?")


def compose_reply(text: str, memory: SessionMemory, core: str | None = None) -> tuple[str, str]:
    """The reply to ``text`` and its dialogue act, updating ``memory``.

    Returns:
        (reply text, act) where act is one of ``naming``, ``name-recall``, ``recall``,
        ``greeting``, ``question``, ``statement``.
    """
    text = text.strip()
    previous = memory.heard[-1] if memory.heard else None
    previous_core = memory.cores[-1] if memory.cores else None
    memory.heard.append(text)
    if core:
        memory.cores.append(core)

    if m := _NAME_GIVEN.search(text):
        memory.name = m.group(1).capitalize()
        return f"Nice to meet you, {memory.name}. I will remember your name.", "naming"
    if _NAME_ASKED.search(text):
        if memory.name:
            return f"Your name is {memory.name}.", "name-recall"
        return "You have not told me your name yet.", "name-recall"
    if _RECALL.search(text):
        if previous:
            return f"You said: {_clip_words(previous)}.", "recall"
        return "You have not said anything before this.", "recall"
    if _GREETING.search(text):
        who = f", {memory.name}" if memory.name else ""
        return f"Hello{who}. I am listening.", "greeting"
    if text.endswith("?") or _QUESTION_START.search(text):
        return (
            f"You asked: {_clip_words(text)}? I cannot answer that yet, but I will keep the question in mind."
        ), "question"
    reply = f"I heard you say: {_clip_words(text)}."
    if previous_core and previous_core != core:
        reply += f" Earlier you spoke about {previous_core.replace('+', ', ')}."
    elif core:
        reply += f" Tell me more about {core.split('+')[0]}."
    return reply, "statement"


class Mind(Module):
    """Rule-based mind: answers each heard turn and remembers the session."""

    name = "mind"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        o = dict(self.options)
        if "voice" in o:
            raise ModuleConfigError(
                "modules.mind.voice is gone: the voice module announces the voice it "
                "speaks with; choose it with modules.voice.voice"
            )
        try:
            self.fusion = Fusion(float(o.pop("fusion_window_s", 10.0)))
        except (TypeError, ValueError) as exc:
            raise ModuleConfigError(f"modules.mind.fusion_window_s: {exc}") from None
        try:
            self.rule = FieldRule(**o)
        except TypeError as exc:
            raise ModuleConfigError(
                f"modules.mind: {exc} (options: follow_speaker, pull, max_shift_st, max_rate_change, fusion_window_s)"
            ) from None
        self.memory = SessionMemory()
        #: the voice replies are planned for, as the speaking module last announced it.
        self.voice: VoiceProfile | None = None

    def wants(self, scene: Scene) -> bool:
        if self.fusion.wants(scene):
            return True
        if scene.channel == "memory" and scene.kind in ("fact", "recall"):
            return scene.context == "name" and bool(scene.text)
        return scene.kind in ("turn", "turn.draft") or (scene.kind == "voice.profile" and scene.voice is not None)

    async def handle(self, scene: Scene) -> None:
        if scene.kind == "voice.profile":
            self.voice = scene.voice
            return
        if scene.channel == "memory":  # the user's name, remembered from an earlier session
            if self.memory.name is None and scene.text:
                self.memory.name = scene.text.strip().capitalize()
            return
        if self.fusion.wants(scene):
            self.fusion.keep(scene)
            return
        if not (scene.text or "").strip():
            return
        # A draft is answered as the turn would be, committing nothing: the session's memory
        # is a copy, and the fused scene is not published.
        draft = scene.kind == "turn.draft"
        answering = scene
        text, act = compose_reply(scene.text or "", copy.deepcopy(self.memory) if draft else self.memory, scene.core)
        fused = self.fusion.fuse(scene)
        if fused is not None:  # the turn with what the other channels perceived around it
            if not draft:
                await self.publish(fused)
            scene = fused
            if act == "statement":
                text = f"{text} {noticed(fused)}".strip()
        reply = scene.derive(
            channel="voice",
            kind="reply.draft" if draft else "reply",
            parents=[answering.id] if draft else [scene.id],
            text=text,
            core=scene.core,
            lexemes=text_lexemes(text),
            mode=scene.mode,
            act=act,
            register=scene.register or "logical",
            language=scene.language,
            source=self.name,
        )
        if self.voice is not None:
            reply.plan = plan_voice(reply, scene.sound, own=self.voice, rule=self.rule)
        await self.publish(reply)
