"""The scene: the one message type on the bus.

A scene is a dated, typed record of meaning that any modality can produce or consume:
an utterance heard, a sound without words, a reply to speak, a request to listen to a
file, an error. Its JSON form is one object with ``"schema": SCHEMA_VERSION`` first and
every field of :class:`Scene` after it; :meth:`Scene.to_json` and :meth:`Scene.from_json`
are exact inverses, and ``from_json`` refuses malformed input with a :class:`SceneError`
that names the field (``scene.sound.f0_median_hz: expected a number, got 'high'``).

Each field means one thing. ``text``, ``core``, ``mode``, ``context`` and ``register`` carry
meaning only; what a request asks (``request``), what came of it (``result``), what went
wrong (``error``) and the voice a module speaks with (``voice``) are typed parts of their
own (:mod:`agent.parts`, :mod:`agent.errors`). Schema 1 (before that split) is still read:
:func:`upgrade_v1` moves its fields where schema 2 keeps them.

Clocks: ``t_start``/``t_end`` are seconds on the source's clock (from the start of the
file for file input, from the start of the session for live input); ``wall_start`` is the
wall-clock moment the scene was made, ISO 8601 in UTC; each :class:`Hop` is a Unix time.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from agent.codec import SchemaError, fail, from_dict, private_copy, to_dict
from agent.errors import Problem
from agent.odor import Odor
from agent.parts import Piece, Request, Result, RoomChoice, Unfolding, VoiceProfile
from agent.register import Register
from agent.sight import Sight
from agent.sound import Sound
from agent.touch import Touch
from agent.voiceplan import Fidelity, VoicePlan

SCHEMA_VERSION = 2
#: older versions this reader upgrades.
READABLE_VERSIONS = (1, 2)

Trust = Literal["anchor", "hypothesis"]

SceneError = SchemaError

_NAME = re.compile(r"^[a-z][a-z0-9_.\-]*$")
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_LEXEME = re.compile(r"^[^\s+]+$")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_DELTA = re.compile(r"^Δ\d{2,}$")
MAX_CORE_LEXEMES = 4


def new_scene_id() -> str:
    """A random 32-hex-digit id."""
    return uuid.uuid4().hex


def now_iso() -> str:
    """The wall clock now, ISO 8601 UTC with milliseconds (``2026-11-22T10:00:00.123Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Hop:
    """One stage a scene passed through: ``stage`` names it, ``t_unix_s`` says when.
    Frozen: a hop is a fact about the past, shared by every copy of the scene."""

    stage: str
    t_unix_s: float


@dataclass
class Scene:
    """A dated record of meaning. Only ``channel`` and ``kind`` are required.

    Attributes:
        channel: the modality it belongs to: ``voice``, ``text``, ``vision``, ``smell``,
            ``tactile``, ``memory``, ``system``…
        kind: what it is on that channel: ``utterance``, ``turn``, ``sound``, ``silence``,
            ``reply``, ``spoken``, ``listen.file``, ``error``, ``done``…
        source: where the scene's content came from: the audio file or device it was
            heard from, or the module that composed it.
        speaker: whose voice, where the source holds several (``left``, ``right``).
        text: the words (heard or to be said); None for a scene without words.
        core: the compressed binding, 1–4 lexemes joined by ``+`` (``silence+heat+entry``).
        lexemes: the lexemes the scene was built from (the core's and more).
        mode, context: the emotional mode and the context of the core triple.
        act: the dialogue act of a reply (``greeting``, ``answer``, ``recall``…).
        register: how the scene unfolds (logical, poetic, emotional, archetypal, bodily).
        sound: timbre and prosody measured from audio.
        sight: what a picture or a video frame shows, measured.
        odor: a smell reading (sensor values or descriptor labels).
        touch: a touch, gesture, pose or motion as sensed.
        plan: the voice plan of a scene that is to be (or was) spoken.
        fidelity: for a spoken scene, how the measured ``sound`` met the ``plan``.
        color, gesture, smell: the scene in other channels (``#RRGGBB``, free text).
        vector: an embedding of the scene, any dimension.
        trust: ``anchor`` (short, often confirmed) or ``hypothesis`` (new, mobile).
        delta: the Δ-code this scene instantiates (``Δ02``), if any.
        unfolding: for a sub-scene, its role, rhythm phase, weight and what found it.
        piece: for a reply that streams, which piece of it this scene is.
        request: what a request scene asks for (the file to hear, the PNG to draw).
        result: what came of a request or a reply (the WAV or PNG written, the device
            played on, a count of scenes).
        error: what went wrong, on an ``error`` scene (reason, message, subject).
        voice: the voice a speaking module speaks with (``voice.profile`` scenes).
        room: which room answers an utterance several rooms heard, and the evidence
            (``room.choice`` scenes, from the bridge of a hub).
        parents: ids of the scenes this one was made from.
        hops: the stages it passed, with times, oldest first.
    """

    channel: str
    kind: str
    id: str = field(default_factory=new_scene_id)
    t_start: float | None = None
    t_end: float | None = None
    wall_start: str = field(default_factory=now_iso)
    source: str | None = None
    #: whose voice, where one source holds several (``left``/``right`` channels of a file).
    speaker: str | None = None
    text: str | None = None
    language: str | None = None
    core: str | None = None
    lexemes: list[str] = field(default_factory=list)
    mode: str | None = None
    context: str | None = None
    act: str | None = None
    register: Register | None = None
    sound: Sound | None = None
    sight: Sight | None = None
    odor: Odor | None = None
    touch: Touch | None = None
    plan: VoicePlan | None = None
    fidelity: Fidelity | None = None
    color: str | None = None
    gesture: str | None = None
    smell: str | None = None
    vector: list[float] | None = None
    trust: Trust = "hypothesis"
    delta: str | None = None
    unfolding: Unfolding | None = None
    piece: Piece | None = None
    request: Request | None = None
    result: Result | None = None
    error: Problem | None = None
    voice: VoiceProfile | None = None
    room: RoomChoice | None = None
    parents: list[str] = field(default_factory=list)
    hops: list[Hop] = field(default_factory=list)

    def _check(self, path: str) -> None:
        for name in ("channel", "kind"):
            if not _NAME.match(getattr(self, name)):
                fail(
                    f"{path}.{name}",
                    f"{getattr(self, name)!r} must be lower-case letters, digits and . _ -, starting with a letter",
                )
        if not _ID.match(self.id):
            fail(f"{path}.id", f"{self.id!r} must be 1–64 letters, digits, _ or -")
        if self.t_start is not None and self.t_end is not None and self.t_end < self.t_start:
            fail(f"{path}.t_end", f"{self.t_end} is before t_start {self.t_start}")
        if self.core is not None:
            parts = self.core.split("+")
            if not 1 <= len(parts) <= MAX_CORE_LEXEMES or not all(_LEXEME.match(p) for p in parts):
                fail(
                    f"{path}.core", f"{self.core!r} must be 1–{MAX_CORE_LEXEMES} lexemes joined by '+', without spaces"
                )
        for i, lexeme in enumerate(self.lexemes):
            if not _LEXEME.match(lexeme):
                fail(f"{path}.lexemes[{i}]", f"{lexeme!r} must be one word without spaces or '+'")
        if self.color is not None and not _COLOR.match(self.color):
            fail(f"{path}.color", f"{self.color!r} must be #RRGGBB")
        if self.delta is not None and not _DELTA.match(self.delta):
            fail(f"{path}.delta", f"{self.delta!r} must be Δ followed by two or more digits")
        try:
            datetime.fromisoformat(self.wall_start.replace("Z", "+00:00"))
        except ValueError:
            fail(f"{path}.wall_start", f"{self.wall_start!r} is not an ISO 8601 time")

    # --- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form: ``{"schema": 2, "channel": ..., ...}``."""
        return {"schema": SCHEMA_VERSION, **to_dict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> Scene:
        """Inverse of :meth:`to_dict`. Raises :class:`SceneError` naming the bad field."""
        if not isinstance(data, dict):
            fail("scene", f"expected a JSON object, got {type(data).__name__}")
        if "schema" not in data:
            fail("scene.schema", f"missing; this reader expects schema {SCHEMA_VERSION}")
        if type(data["schema"]) is not int or data["schema"] not in READABLE_VERSIONS:
            fail(
                "scene.schema",
                f"version {data['schema']!r} is not supported "
                f"(this reader speaks {', '.join(map(str, READABLE_VERSIONS))})",
            )
        body = {k: v for k, v in data.items() if k != "schema"}
        if data["schema"] == 1:
            body = upgrade_v1(body)
        return from_dict(cls, body, "scene")

    def to_json(self) -> str:
        """One line of JSON (UTF-8 text, no ASCII escaping)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Scene:
        """Parse one JSON scene. Raises :class:`SceneError` for bad JSON or a bad field."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            fail("scene", f"not valid JSON ({exc})")
        return cls.from_dict(data)

    # --- lineage ------------------------------------------------------------------------

    def derive(self, **changes: Any) -> Scene:
        """A new scene made from this one: fresh id and wall time, ``parents=[self.id]``,
        the hops so far carried forward (so the final scene shows the whole pipeline's
        timing), and every other field as given in ``changes`` (defaults otherwise)."""
        changes.setdefault("parents", [self.id])
        changes.setdefault("hops", list(self.hops))
        changes.setdefault("channel", self.channel)
        return Scene(**changes)

    def copy(self) -> Scene:
        """A private copy: equal to this scene (same id, same times) but sharing no mutable
        part with it — ``sound``, ``plan``, ``fidelity`` and every list are copies, so a
        reader that changes its copy changes nothing anyone else holds. The bus hands each
        subscriber one (see ``agent.bus``)."""
        return private_copy(self)

    def with_hop(self, stage: str, t_unix_s: float | None = None) -> Scene:
        """A private copy (:meth:`copy`) with one more hop ``stage`` stamped at
        ``t_unix_s`` (Unix seconds; default: now)."""
        twin = private_copy(self)
        twin.hops.append(Hop(stage, time.time() if t_unix_s is None else t_unix_s))
        return twin

    def hop_latencies_s(self) -> list[tuple[str, float]]:
        """Seconds between consecutive hops: ``[(stage, seconds since the previous hop)]``."""
        return [(b.stage, b.t_unix_s - a.t_unix_s) for a, b in zip(self.hops, self.hops[1:])]


#: schema-1 request kinds whose ``source`` was the input file.
_V1_FILE_REQUESTS = ("listen.file", "listen.turn", "plot")


def upgrade_v1(body: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 scene's fields as schema 2 keeps them (``body`` without ``schema``).

    Schema 1 let ``context``, ``source`` and ``text`` carry requests, results and errors:
    an error's reason was ``context`` and its message ``text``; a request's file was
    ``source`` (and a ``plot``'s PNG ``context``); a ``spoken`` scene's WAV, a ``done``
    scene's PNG and a ``listening`` scene's device were ``source``; a ``done`` scene's
    ``text`` was "N scenes". Unknown fields are left for validation to refuse."""
    body = dict(body)
    kind = body.get("kind")
    if kind == "error":
        reason = body.pop("context", None) or "internal"
        reason = {"input.output_path": "input.output-path"}.get(reason, reason)
        body["error"] = {"reason": reason, "message": body.pop("text", None) or "", "subject": None}
    elif kind in _V1_FILE_REQUESTS:
        out = body.pop("context", None) if kind == "plot" else None
        body["request"] = {"path": body.pop("source", None), "out_path": out}
    elif kind == "spoken":
        where = body.pop("source", None)
        if where is not None:
            body["result"] = (
                {"path": None, "device": where, "count": None}
                if where == "speaker"
                else {"path": where, "device": None, "count": None}
            )
        body["act"], body["context"] = body.get("context"), None
    elif kind == "reply":
        body["act"], body["context"] = body.get("context"), None
    elif kind == "done":
        text, where = body.pop("text", None) or "", body.pop("source", None)
        count = re.match(r"^(\d+) scenes$", text)
        if count:
            body["result"] = {"path": None, "device": None, "count": int(count.group(1))}
        elif where is not None:
            body["result"] = {"path": where, "device": None, "count": None}
    elif kind == "listening":
        device = body.pop("source", None)
        body.pop("text", None)
        body["result"] = {"path": None, "device": device, "count": None}
    return body
