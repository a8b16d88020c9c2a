"""MemoryAnchor recognises a returning speaker by voice: real recordings through the real
analyser, ``sound.timbre`` of heard scenes, voices kept across sessions in one database."""

from __future__ import annotations

import asyncio
import functools
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import SPEECH, load_16k
from module_harness import run_module

from agent.scene import Scene
from agent.sound import Sound
from modules.memory import MemoryAnchor
from modules.memory.speakers import THRESHOLD, distance
from modules.memory.store import MemoryStore
from modules.voice.analysis import analyse
from modules.voice.io.audio import load_audio, resample, voices
from modules.voice.rates import RATE_HZ

TEXTS = {
    "spk1_snt1": "The child almost hurt the small dog.",
    "spk1_snt3": "At that high level the air is pure.",
    "spk1_snt5": "Sunday is the best part of the week.",
    "LJ050-0131": "Unless a system is established for the frequent formal review of activities thereunder.",
    "jfk": "And so my fellow Americans, ask not what your country can do for you.",
    "left": "He began a confused complaint against the wizard.",
    "right": "The horizon seems extremely distant.",
}


@functools.cache
def timbre(name: str) -> list[float]:
    """The analyser's timbre profile of a recording (``left``/``right``: a channel of the stereo file)."""
    if name in ("left", "right"):
        audio = load_audio(SPEECH / "stereo_diarization.wav")
        channels = dict(voices(audio, "split"))
        samples = resample(channels[name], audio.rate_hz, RATE_HZ)
    else:
        path = next(SPEECH.glob(f"{name}.*"))
        samples = load_16k(path)
    profile = analyse(samples, RATE_HZ).timbre
    assert profile is not None, name
    return profile


def heard(name: str, text: str | None = None) -> Scene:
    return Scene(channel="voice", kind="utterance", text=text or TEXTS[name], sound=Sound(timbre=timbre(name)))


def session(db: Path, scenes: list[Scene]) -> list[Scene]:
    """One run of the agent with the memory module: the heard scenes, then ``memory.show``;
    what memory published until its ``done``."""
    module = MemoryAnchor({"path": str(db), "embeddings": False})
    show = Scene(channel="memory", kind="memory.show")
    return asyncio.run(run_module(module, [*scenes, show], lambda s: s.kind in ("done", "error"), 60))


def spoken(got: list[Scene], scenes: list[Scene]) -> list[Scene]:
    """The ``memory``/``speaker`` scene for each of ``scenes``, in order."""
    by_parent = {s.parents[0]: s for s in got if s.kind == "speaker" and s.parents and s.context != "voice"}
    return [by_parent[s.id] for s in scenes]


def test_the_threshold_lies_between_one_voice_and_two_on_these_recordings() -> None:
    spk1 = [timbre(n) for n in ("spk1_snt1", "spk1_snt3", "spk1_snt5")]
    others = [timbre(n) for n in ("LJ050-0131", "jfk", "left", "right")]
    assert max(distance(a, b) for a, b in itertools.combinations(spk1, 2)) < THRESHOLD
    assert min(distance(o, s) for o in others for s in spk1) > THRESHOLD
    assert min(distance(a, b) for a, b in itertools.combinations(others, 2)) > THRESHOLD


def test_a_returning_speaker_is_recognised_and_new_ones_are_enrolled(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    first = [heard("spk1_snt1")]
    got = session(db, first)
    (enrolled,) = spoken(got, first)
    assert (enrolled.speaker, enrolled.context, enrolled.trust) == ("speaker-1", "enrolled", "hypothesis")
    assert enrolled.channel == "memory" and enrolled.parents == [first[0].id]

    # A later session: spk1 again (another sentence) is the same voice; the others are new.
    second = [heard(n) for n in ("spk1_snt3", "LJ050-0131", "jfk", "left", "right")]
    got = session(db, second)
    again, lj, jfk, left, right = spoken(got, second)
    assert (again.speaker, again.context, again.result.count) == ("speaker-1", "recognised", 2)
    assert [s.context for s in (lj, jfk, left, right)] == ["enrolled"] * 4
    assert len({s.speaker for s in (again, lj, jfk, left, right)}) == 5
    shown = {s.speaker: s.result.count for s in got if s.kind == "speaker" and s.context == "voice"}
    assert shown == {"speaker-1": 2, lj.speaker: 1, jfk.speaker: 1, left.speaker: 1, right.speaker: 1}
    counts = next(s for s in got if s.kind == "counts")
    assert "5 voices: speaker-1 ×2" in counts.text

    # A third: a name heard from spk1's voice names it, then and later; two matches → anchor.
    third = [heard("spk1_snt5", "My name is Anna."), heard("spk1_snt1")]
    got = session(db, third)
    named, later = spoken(got, third)
    assert (named.speaker, named.text, named.trust) == ("Anna", "Anna", "anchor")
    assert (later.speaker, later.result.count) == ("Anna", 4)

    store = MemoryStore(db)
    anna = next(v for v in store.speakers() if v.label == "Anna")
    assert anna.id == "speaker-1" and anna.count == 4
    mean = np.mean([timbre(n) for n in ("spk1_snt1", "spk1_snt3", "spk1_snt5", "spk1_snt1")], axis=0)
    assert np.allclose(anna.timbre, mean, atol=1e-5)
    # Forgetting the speaker forgets the voice too, and the scenes that named it by id or name.
    assert store.conn.execute("SELECT COUNT(*) FROM scenes WHERE speaker = 'speaker-1'").fetchone()[0] == 2
    store.forget("Anna")
    assert "Anna" not in {v.label for v in store.speakers()} and len(store.speakers()) == 4
    left = store.conn.execute("SELECT COUNT(*) FROM scenes WHERE speaker IN ('speaker-1', 'Anna')").fetchone()[0]
    assert left == 0
    store.close()


def test_forget_all_forgets_every_voice_and_recognition_can_be_turned_off(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    session(db, [heard("spk1_snt1")])
    module = MemoryAnchor({"path": str(db), "embeddings": False})
    forget = Scene(channel="memory", kind="memory.forget")
    asyncio.run(run_module(module, [forget], lambda s: s.kind in ("done", "error"), 60))
    store = MemoryStore(db)
    assert store.speakers() == []
    store.close()
    module = MemoryAnchor({"path": str(db), "embeddings": False, "speaker_threshold": 0})
    scene = heard("jfk")
    got = asyncio.run(
        run_module(module, [scene, Scene(channel="memory", kind="memory.show")], lambda s: s.kind == "done", 60)
    )
    assert not [s for s in got if s.kind == "speaker"]


@pytest.mark.parametrize("bad", [-0.1])
def test_a_negative_threshold_is_refused(bad: float) -> None:
    from agent.module import ModuleConfigError

    with pytest.raises(ModuleConfigError, match="speaker_threshold"):
        MemoryAnchor({"speaker_threshold": bad})


def _listen_with_memory(db: Path, names: list[str], speaker_wait_s: float = 5.0) -> tuple[list[Scene], float]:
    """The real voice module (openai-whisper tiny.en) and MemoryAnchor on one bus: each
    recording heard as a ``listen.turn`` (the voice module takes them in order); every scene
    on the bus, and the slowest ask → answer round trip in seconds (bus hop times)."""
    from agent.parts import Request
    from modules.voice.module import VoiceModule

    voice = VoiceModule({"tts": "piper", "speaker_wait_s": speaker_wait_s})
    memory = MemoryAnchor({"path": str(db), "embeddings": False})
    requests = [
        Scene(channel="voice", kind="listen.turn", request=Request(path=str(next(SPEECH.glob(f"{name}.*")))))
        for name in names
    ]
    heard: list[Scene] = []

    def all_heard_or_an_error(scene: Scene) -> bool:
        if scene.kind in ("turn", "error"):
            heard.append(scene)
        return scene.kind == "error" or len(heard) == len(names)

    seen = asyncio.run(run_module([memory, voice], requests, all_heard_or_an_error, 120 * len(names)))
    assert [s.kind for s in heard] == ["turn"] * len(names), [s.error for s in heard]
    asks = {s.id: s for s in seen if s.kind == "speaker.ask"}
    waits = [
        s.hops[-1].t_unix_s - asks[s.parents[0]].hops[-1].t_unix_s
        for s in seen
        if s.kind == "speaker" and s.parents and s.parents[0] in asks
    ]
    return seen, max(waits, default=0.0)


def test_the_heard_turns_own_speaker_field_names_the_voice_recognised_by_memory(tmp_path: Path, cache) -> None:
    db = tmp_path / "memory.sqlite3"
    seen, slowest_s = _listen_with_memory(db, ["spk1_snt1", "jfk", "spk1_snt3"])
    turns = [s for s in seen if s.kind == "turn"]
    answers = {s.id: s for s in seen if s.kind == "speaker"}
    assert [t.speaker for t in turns] == ["speaker-1", "speaker-2", "speaker-1"]
    # Each turn names the answer it was given among its parents, and memory counted each
    # turn once (an ask, not the turn again): speaker-1 heard twice, not four times.
    assert [answers[t.parents[-1]].speaker for t in turns] == ["speaker-1", "speaker-2", "speaker-1"]
    assert len(answers) == 3
    store = MemoryStore(db)
    assert {v.id: v.count for v in store.speakers()} == {"speaker-1": 2, "speaker-2": 1}
    store.close()
    assert slowest_s < 0.25, f"the answer on who spoke took {slowest_s:.3f} s"
    # A second session: the same voice is named the same from its first turn on.
    seen, _ = _listen_with_memory(db, ["spk1_snt5"])
    assert [s.speaker for s in seen if s.kind == "turn"] == ["speaker-1"]


def test_a_turn_goes_out_unnamed_when_nobody_recognises_voices(tmp_path: Path, cache) -> None:
    from agent.parts import Request
    from modules.voice.module import VoiceModule

    path = next(SPEECH.glob("jfk.*"))
    request = Scene(channel="voice", kind="listen.turn", request=Request(path=str(path)))
    got = asyncio.run(run_module(VoiceModule({"tts": "piper"}), [request], lambda s: s.kind in ("turn", "error"), 120))
    assert [s.kind for s in got if s.kind in ("turn", "speaker.ask")] == ["turn"]
    assert got[-1].speaker is None
