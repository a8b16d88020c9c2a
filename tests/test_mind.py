"""The mind's scene machinery: compression, unfolding, trust, Δ-codes, the mood field, and
replies that converse. Deterministic parts are tested on their own; the rest through a
Mind on a real bus with a real SQLite file."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path

import pytest
from conftest import joe_profile
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.bus import SceneBus
from agent.compress import compress
from agent.converse import SessionMemory, compose, noun_phrase, voice_remark
from agent.deltas import Cooccurrence, DeltaCode, apply_codes, expand, mine, pmi
from agent.mind import Mind
from agent.mindstore import MindStore, MindStoreError
from agent.mood import Mood
from agent.scene import Scene
from agent.sound import Sound
from agent.trust import nodes_of, trust_of
from agent.unfold import MAX_SUBSCENES, MIN_SUBSCENES, unfold

_PHASES = {"onset": 0, "peak": 1, "decay": 2}


def turn(text: str, sound: Sound | None = None, **kw) -> Scene:
    return Scene(channel="voice", kind="turn", text=text, sound=sound, **kw)


def converse(texts: list[str | Scene], store: str = ":memory:", profile: bool = True) -> list[Scene]:
    """Every scene a Mind on a real bus publishes while hearing ``texts`` in order."""

    async def main() -> list[Scene]:
        out: list[Scene] = []

        async def collect(s: Scene) -> None:
            out.append(s)

        mind = Mind({"store": store})
        bus = SceneBus()
        bus.subscribe("mind", mind.handle, mind.wants)
        bus.subscribe("out", collect, lambda s: s.channel in ("voice", "mind") and s.kind != "voice.profile")
        async with bus:
            await mind.start(bus)
            if profile:
                await bus.publish(Scene(channel="voice", kind="voice.profile", voice=joe_profile()), source="voice")
            for t in texts:
                await bus.publish(turn(t) if isinstance(t, str) else t, source="voice")
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
        await mind.stop()
        return out

    return asyncio.run(main())


def replies(scenes: list[Scene]) -> list[Scene]:
    return [s for s in scenes if s.kind == "reply"]


# --- compression ---------------------------------------------------------------------------


def test_compression_keeps_the_salient_lemmas_not_the_first_words_and_is_deterministic() -> None:
    scene = turn("The children were almost hurt by the dogs.")
    first, again = compress(scene), compress(scene)
    assert first == again
    assert set(first.lemmas) == {"hurt", "dog", "child"}, first.core  # lemmas: "children" → child
    assert "almost" not in first.lemmas
    assert compress(turn("A thin stripe runs down the middle.")).lemmas[0] == "stripe"
    assert list(first.weights)[: len(first.lemmas)] == first.lemmas, "the core is the head of the ranking"
    # one salient thing: a core of one
    assert compress(turn("Photosynthesis, you see, is what it is.")).core == "photosynthesis"
    assert compress(turn("Yes, it is.")).core is None


def test_compression_reads_the_mode_from_the_voice_first_and_from_the_words_where_it_says_nothing() -> None:
    excited = Sound(f0_range_st=18.0, rate_sps=5.2, rate_wps=3.6, f0_median_hz=220.0)
    assert compress(turn("The train leaves at nine.", excited)).mode == "excited"
    assert compress(turn("The train leaves at nine.")).mode == "neutral"
    assert compress(turn("When does the train leave?")).mode == "questioning"
    assert compress(turn("I hate this, it is awful!")).mode == "tense"
    assert compress(turn("I hate this, it is awful.")).mode == "low-energy"
    assert compress(turn("What a wonderful, lovely day.")).mode == "bright"


def test_compression_names_the_topic_it_continues_from_the_session_or_from_memory() -> None:
    rain = turn("The rain will not stop.")
    assert compress(rain, earlier=[["garden", "rain"], ["train", "late"]]).context == "rain"
    assert compress(rain, earlier=[["train"]], known={"rain"}).context == "rain"
    assert compress(rain, earlier=[["train"]]).context is None


def test_a_fused_scene_compresses_with_what_the_other_channels_perceived() -> None:
    fused = Scene(
        channel="fused", kind="fused", text="It is getting late.", core="late+smoke", lexemes=["smoke", "damp"]
    )
    c = compress(fused)
    assert c.lemmas[0] == "late" and c.lemmas[-1] == "smoke" and len(c.lemmas) <= 4


# --- decompression -------------------------------------------------------------------------


def test_unfolding_gives_three_to_seven_subscenes_with_roles_phases_and_registers() -> None:
    for text in [
        "I am so tired of this stupid rain.",
        "The garden is quiet in the morning.",
        "Photosynthesis.",
        "My sister Maria called from Lisbon about the old house by the sea and the letter.",
    ]:
        scene = turn(text)
        c = compress(scene)
        subs = unfold(scene, c, mood=Mood(valence=-0.5, arousal=0.4))
        assert MIN_SUBSCENES <= len(subs) <= MAX_SUBSCENES, (text, len(subs))
        phases = [_PHASES[s.unfolding.phase] for s in subs]
        assert phases == sorted(phases), "onset → peak → decay"
        assert all(s.parents == [scene.id] and s.kind == "subscene" and s.channel == "mind" for s in subs)
        assert sum(s.unfolding.role == "figure" for s in subs) == 1
        for s in subs:
            Scene.from_json(s.to_json())  # a valid scene, weight within 0…1
    tired = unfold(turn("I am so tired of this stupid rain."), compress(turn("I am so tired of this stupid rain.")))
    roles = {s.core: (s.unfolding.role, s.register) for s in tired}
    assert roles["stupid"] == ("tension", "emotional"), "the most strongly felt lemma is the tension"
    assert roles["rain"][0] != "tension"
    assert unfold(turn("Yes."), compress(turn("Yes."))) == []


def test_unfolding_finds_remembered_scenes_and_delta_templates(tmp_path: Path) -> None:
    store = MindStore(tmp_path / "m.sqlite3")
    store.remember_turn(
        session="s1", wall="2026-11-29T10:00:00Z", scene_id="past", speaker=None,
        weights={"rain": 3.3, "garden": 3.2}, nodes=nodes_of(["rain", "garden"]),
    )  # fmt: skip
    scene = turn("The rain came back to the garden.")
    c = compress(scene)
    similar = store.similar(c.weights)
    assert [t.scene_id for t, _ in similar] == ["past"] and similar[0][1] > 0.8
    code = DeltaCode("Δ01", ("rain", "storm"), 3, 1.6)
    subs = unfold(scene, c, similar=similar, codes=[code])
    memory = next(s for s in subs if s.unfolding.role == "memory")
    assert memory.unfolding.via == "similar" and memory.context == "2026-11-29" and "rain" in memory.lexemes
    arche = next(s for s in subs if s.unfolding.role == "archetype")
    assert arche.delta == "Δ01" and arche.core == "rain+storm" and arche.unfolding.phase == "decay"


# --- trust ---------------------------------------------------------------------------------


def test_short_confirmed_nodes_become_anchors_and_long_ones_stay_hypotheses() -> None:
    assert nodes_of(["rain", "garden", "fall"]) == [
        ("fall",), ("garden",), ("rain",), ("fall", "garden"), ("fall", "rain"), ("garden", "rain"),
        ("fall", "garden", "rain"),
    ]  # fmt: skip
    assert trust_of(1, 3, 2) == "anchor"
    assert trust_of(1, 3, 1) == "hypothesis", "insisting within one session is not yet confirmation"
    assert trust_of(2, 6, 1) == "anchor"
    assert trust_of(3, 50, 9) == "hypothesis", "a long binding stays a reading"
    assert trust_of(1, 2, 2) == "hypothesis"


def test_a_node_heard_across_sessions_is_trusted_as_an_anchor(tmp_path: Path) -> None:
    store = str(tmp_path / "mind.sqlite3")
    first = converse(["I made coffee.", "The coffee was strong.", "More coffee, please."], store=store)
    thoughts = [s for s in first if s.kind == "thought"]
    assert [t.trust for t in thoughts] == ["hypothesis"] * 3
    # a new session (a new mind on the same file): the fourth confirmation, in a second session
    second = converse(["Coffee again.", "The coffee and the morning paper."], store=store)
    thought, paper = [s for s in second if s.kind == "thought"]
    assert thought.core == "coffee" and thought.trust == "anchor"
    # in a longer scene the trusted lemma unfolds as an anchor (unless it is the figure)
    anchors = [
        s.core for s in second if s.kind == "subscene" and s.parents == [paper.id] and s.unfolding.via == "anchor"
    ]
    figure = [
        s.core for s in second if s.kind == "subscene" and s.parents == [paper.id] and s.unfolding.role == "figure"
    ]
    assert "coffee" in anchors + figure and paper.trust == "hypothesis"
    kept = MindStore(store).node(["coffee"])
    assert (kept.confirmations, kept.sessions) == (5, 2)


# --- Δ-codes -------------------------------------------------------------------------------


def test_delta_codes_freeze_after_a_pattern_recurs_and_not_before() -> None:
    noise = [["train"], ["letter"], ["sister"], ["coffee"], ["work"], ["sea"]]
    twice = [["rain", "garden"], ["rain", "garden", "fall"], *noise]
    assert mine(twice, []) == [], "twice is not a pattern"
    thrice = [*twice, ["garden", "rain", "green"]]
    (code,) = mine(thrice, [])
    assert code.formula == "Δ01 = garden + rain" and code.count == 3
    assert code.pmi == pytest.approx(math.log2(3 * 9 / (3 * 3)), abs=1e-3)
    # a pair that is in every set says nothing about association: PMI 0
    assert mine([["a", "b"]] * 5, []) == []
    # frozen codes are items: a code that keeps company with a lemma freezes in turn
    with_memory = [*thrice, ["rain", "garden", "memory"], ["rain", "garden", "memory"], ["rain", "garden", "memory"]]
    codes = [code]
    (composed,) = mine(with_memory, codes)
    assert composed.formula == "Δ02 = Δ01 + memory"
    assert expand("Δ02", {"Δ01": code, "Δ02": composed}) == ["garden", "rain", "memory"]
    assert apply_codes(["rain", "garden", "memory", "tea"], [code, composed]) == {"Δ02", "tea"}
    assert pmi(0, 3, 3, 9) == -math.inf


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.sets(st.sampled_from("abcdefgh"), min_size=1, max_size=5)),
            st.tuples(st.just("drop"), st.integers(0, 50)),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(3, 12),
)
def test_counts_kept_turn_by_turn_mine_what_counting_the_window_afresh_mines(steps, window_n) -> None:
    """Sets come, the oldest leave the window, others are erased, codes freeze: after every
    step the kept counts give the codes (and the counts) of a fresh count of the window."""
    kept = Cooccurrence()
    window: list[tuple[int, frozenset[str]]] = []
    codes: list[DeltaCode] = []
    for i, (what, arg) in enumerate(steps):
        if what == "add":
            window = [*window, (i, frozenset(arg))][-window_n:]
        elif window:
            del window[arg % len(window)]
        kept.sync(window, codes)
        fresh = Cooccurrence(codes)
        for key, items in window:
            fresh.add(key, items)
        assert (kept.n, +kept.single, +kept.pairs) == (fresh.n, fresh.single, fresh.pairs)
        assert set(kept.single.values()) <= set(range(1, window_n + 1))  # nothing left at zero
        new = kept.mine(min_count=2, min_pmi=0.5)
        assert new == mine([items for _, items in window], codes, min_count=2, min_pmi=0.5)
        codes = [*codes, *new]


def test_the_stores_turns_follow_the_file_as_turns_come_leave_and_are_erased_by_another_process(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr("agent.mindstore.MAX_TURNS", 5)
    path = tmp_path / "mind.sqlite3"
    store, other = MindStore(path), MindStore(path)

    def keep(by: MindStore, n: int, speaker: str | None = None) -> None:
        by.remember_turn(
            session="s", wall="2026-12-02T04:00:00Z", scene_id=f"t{n}", speaker=speaker,
            weights={f"w{n}": 1.0, "rain": 0.5}, nodes=[],
        )  # fmt: skip

    def as_in_the_file() -> list[str]:
        return [t.scene_id for t in MindStore(path).turns()]

    assert store.turns() == []
    for n in range(3):
        keep(store, n, speaker="anna" if n == 1 else None)
    assert [t.scene_id for t in store.turns()] == ["t0", "t1", "t2"] == as_in_the_file()
    cached = store.turns()[0]
    assert store.turns()[0] is cached  # read once, kept: not parsed from the file again
    for n in range(3, 8):  # past the window: the oldest leave
        keep(other if n % 2 else store, n)
        assert [t.scene_id for t in store.turns()] == as_in_the_file()
    assert len(store.turns()) == 5 and store.turns(2) == store.turns()[-2:]
    keep(store, 8, speaker="anna")
    other.forget("anna")  # erased in the middle, by another connection
    assert [t.scene_id for t in store.turns()] == as_in_the_file() and "t8" not in as_in_the_file()
    assert [t.scene_id for t, _ in store.similar({"rain": 1.0}, k=10)] == as_in_the_file()  # ties: oldest first
    other.forget()
    assert store.turns() == [] and store.similar({"rain": 1.0}) == []


def test_the_mind_freezes_a_recurring_pair_and_unfolds_later_scenes_by_it(tmp_path: Path) -> None:
    store = str(tmp_path / "mind.sqlite3")
    said = [
        "The rain fell on the garden.", "The train was late.", "I walked through the garden in the rain.",
        "My sister wrote a letter.", "Coffee keeps me awake.", "The rain made the garden green.",
        "Work was long today.", "The sea was grey.", "The garden after the rain smells of earth.",
    ]  # fmt: skip
    scenes = converse(said, store=store)
    codes = MindStore(store).codes()
    assert [c.formula for c in codes] == ["Δ01 = garden + rain"]
    thoughts = [s for s in scenes if s.kind == "thought"]
    frozen_at = next(i for i, t in enumerate(thoughts) if t.delta == "Δ01")
    assert frozen_at == len(thoughts) - 1, "no scene instantiates a code before it froze"
    last = [s for s in scenes if s.kind == "subscene" and s.parents == [thoughts[-1].id]]
    assert any(s.unfolding.role == "archetype" and s.delta == "Δ01" for s in last)
    assert "again" in replies(scenes)[-1].text


# --- the field -----------------------------------------------------------------------------


def test_the_mood_moves_with_words_and_voice_and_fades_between_turns() -> None:
    mood = Mood(half_life_s=60.0)
    loud_fast = Sound(energy_db=-14.0, rate_wps=3.8, f0_range_st=11.0)
    for t in range(3):
        mood.feel("I am furious, this is a disaster!", loud_fast, now_unix_s=float(t), mode="tense")
    assert mood.label == "tense" and mood.valence < -0.4 and mood.arousal > 0.4
    strength = mood.strength
    mood.decay(2.0 + 60.0)
    assert mood.strength == pytest.approx(strength / 2, rel=1e-6)
    calm = Mood()
    calm.feel("The meeting is on Tuesday.", Sound(energy_db=-26.0, rate_wps=2.6, f0_range_st=6.0), 0.0)
    assert calm.label == "calm" and abs(calm.valence) < 0.1 and abs(calm.arousal) < 0.1


def test_after_a_tense_exchange_the_same_words_get_another_reply_and_a_softer_voice() -> None:
    loud = Sound(energy_db=-14.0, rate_wps=3.8, f0_range_st=11.0, f0_median_hz=190.0)
    even = Sound(energy_db=-26.0, rate_wps=2.6, f0_range_st=6.0, f0_median_hz=190.0)
    same = turn(
        "The report is due on Friday.", Sound(energy_db=-24.0, rate_wps=2.7, f0_range_st=6.0, f0_median_hz=190.0)
    )
    tense = converse(
        [turn("Nothing works and I am furious!", loud), turn("This is a disaster, I hate it!", loud), same]
    )
    calm = converse([turn("The tea is warm and the room is quiet.", even), turn("I read a good book.", even), same])
    after_tense, after_calm = replies(tense)[-1], replies(calm)[-1]
    assert after_tense.text != after_calm.text
    assert after_tense.text.startswith(("That sounds", "I hear the strain")), after_tense.text
    pt, pc = after_tense.plan, after_calm.plan
    assert (pt.manner, pc.manner) == ("soothing", "plain")
    assert pt.rate_wps < pc.rate_wps * 0.95
    assert pt.f0_median_hz < pc.f0_median_hz and pt.f0_range_st < pc.f0_range_st and pt.energy_db < pc.energy_db


# --- replies that converse -----------------------------------------------------------------


def test_replies_never_say_the_users_sentence_back() -> None:
    said = [
        "I spent the whole afternoon fixing the old bicycle in the shed.",
        "My neighbour keeps playing loud music late at night.",
        "Tomorrow I start a new job at the hospital.",
        "Why do cats always land on their feet?",
        "The soup I cooked yesterday was far too salty.",
    ]
    for text, reply in zip(said, replies(converse(said))):
        words = text.lower().rstrip(".?").split()
        runs = {" ".join(words[i : i + 5]) for i in range(len(words) - 4)}
        assert not any(run in reply.text.lower() for run in runs), (text, reply.text)
        assert reply.text.endswith("?") or "Tell me more" in reply.text, reply.text  # it asks on


def test_the_mind_answers_what_it_can_from_the_session_the_facts_and_the_clock() -> None:
    said = [
        "Hi!", "My name is Ruth.", "I live in Porto.", "My brother is called Tiago.", "I love sailing.",
        "What is my name?", "Where do I live?", "Who is my brother?", "What do I like?",
        "The boat needs new paint.", "What did I just say?", "What were we talking about?",
        "What time is it?", "Who are you?", "What do you know about me?",
    ]  # fmt: skip
    got = [r.text for r in replies(converse(said))]
    assert "Ruth" in got[1] and "Porto" in got[2] and "Tiago" in got[3] and "sailing" in got[4]
    assert got[5] == "Your name is Ruth."
    assert got[6] == "You live in Porto."
    assert got[7] == "Your brother is Tiago."
    assert got[8] == "You like sailing."
    assert "the paint" in got[9] or "the boat" in got[9]
    assert got[10] == "You said: The boat needs new paint."
    assert ("the boat" in got[11] or "the paint" in got[11]) and "Porto" in got[11] and "sailing" in got[11]
    hour, minute = got[12].removeprefix("It is ").rstrip(".").split(":")
    assert 0 <= int(hour) < 24 and 0 <= int(minute) < 60
    assert "scenevoice" in got[13]
    assert all(w in got[14] for w in ("Ruth", "Porto", "sailing", "Tiago"))


def test_the_mind_says_how_the_user_sounded_against_their_own_earlier_turns() -> None:
    base = [Sound(rate_wps=2.5, energy_db=-26.0), Sound(rate_wps=2.4, energy_db=-25.0)]
    assert voice_remark(Sound(rate_wps=3.4, energy_db=-25.0), base) == "You spoke faster than before."
    assert voice_remark(Sound(rate_wps=1.7, energy_db=-25.0), base) == "You spoke more slowly than before."
    assert voice_remark(Sound(rate_wps=2.5, energy_db=-18.0), base) == "You sound louder than before."
    breathless = Sound(rate_wps=3.0, energy_db=-24.0, hnr_db=5.0, pause_ratio=0.4)
    assert voice_remark(breathless, base) == "You sound out of breath."
    assert voice_remark(Sound(rate_wps=2.6, energy_db=-25.5), base) is None
    assert voice_remark(Sound(rate_wps=3.4), []) is None, "nothing to compare with on a first turn"
    # in a conversation: said once, not on every turn
    said = [turn(f"The {w} was fine.", Sound(rate_wps=2.5, energy_db=-25.0)) for w in ("walk", "lunch")]
    said += [turn(f"The {w} was fine.", Sound(rate_wps=3.6, energy_db=-25.0)) for w in ("film", "drive")]
    texts = [r.text for r in replies(converse(said))]
    assert "faster than before" in texts[2] and "faster" not in texts[3]


def test_nouns_are_named_back_and_other_words_are_not() -> None:
    assert noun_phrase("boss", "My boss shouted at me.") == "your boss"
    assert noun_phrase("shout", "My boss shouted at me.") is None
    assert noun_phrase("dog", "The child almost hurt the small dog.") == "the dog"
    assert noun_phrase("smell", "The garden smells of earth.") is None
    assert noun_phrase("lisbon", "We drove to Lisbon.") == "Lisbon"
    assert noun_phrase("long", "I had a long day.") is None


def test_compose_is_the_same_for_a_copy_of_the_session() -> None:
    memory, mood = SessionMemory(name="Ann"), Mood()
    scene = turn("The river was cold this morning.")
    c = compress(scene)
    subs = unfold(scene, c)
    import copy
    from datetime import datetime

    now = datetime(2026, 11, 30, 9, 0)
    a = compose(scene, c, subs, copy.deepcopy(memory), copy.deepcopy(mood), now)
    b = compose(scene, c, subs, memory, mood, now)
    assert a == b and memory.heard == ["The river was cold this morning."]


# --- what it keeps, and erasing it ---------------------------------------------------------


def test_memory_forget_erases_what_the_mind_keeps(tmp_path: Path) -> None:
    store = str(tmp_path / "mind.sqlite3")
    forget = Scene(channel="memory", kind="memory.forget")
    scenes = converse(["The rain fell on the garden.", "My sister wrote.", forget], store=store)
    (done,) = [s for s in scenes if s.kind == "done"]
    assert done.channel == "mind" and done.result.count > 0 and done.parents == [forget.id]
    assert MindStore(store).counts() == {"nodes": 0, "turns": 0, "codes": 0}
    # the mind keeps no text of what was said, only lemmas
    rows = sqlite3.connect(store).execute("SELECT weights FROM turns").fetchall()
    assert rows == []


def test_a_mind_whose_file_cannot_be_opened_still_answers(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(MindStoreError, match="cannot open the mind's memory"):
        MindStore(blocker / "mind.sqlite3")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    for path in (blocker / "mind.sqlite3", garbage):
        got = replies(converse(["The rain fell on the garden."], store=str(path)))
        assert len(got) == 1 and "rain" in got[0].text
    assert "answering without remembering across sessions" in caplog.text


# --- run.py think --------------------------------------------------------------------------


@pytest.mark.slow
def test_think_prints_the_compressed_scene_and_its_unfolding_and_lists_the_codes(tmp_path: Path) -> None:
    import json
    import os

    from conftest import run_cli

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    said = [
        "The rain fell on the garden.", "The train was late.", "I walked through the garden in the rain.",
        "My sister wrote a letter.", "Coffee keeps me awake.", "The rain made the garden green.",
        "Work was long today.", "The sea was grey.", "The garden after the rain smells of earth.",
    ]  # fmt: skip
    got = run_cli("think", *said, "--codes", env=env)
    assert got.code == 0, got.stderr
    lines = got.stdout.splitlines()
    scenes = [Scene.from_json(line) for line in lines if line.startswith("{")]
    thoughts = [s for s in scenes if s.kind == "thought"]
    assert len(thoughts) == len(said) and thoughts[0].core == "rain+garden+fall"
    subs = [s for s in scenes if s.kind == "subscene" and s.parents == [thoughts[0].id]]
    assert 3 <= len(subs) <= 7 and {s.unfolding.role for s in subs} >= {"figure", "background"}
    assert "Δ01 = garden + rain" in lines, "the code froze and --codes lists it"
    assert (tmp_path / "data" / "scenevoice" / "mind.sqlite3").is_file()
    # nothing given: a clear error; the codes alone
    assert run_cli("think", env=env).code == 2
    only_codes = run_cli("think", "--codes", env=env)
    assert only_codes.code == 0 and only_codes.stdout.strip() == "Δ01 = garden + rain"
    # and `memory forget --all` erases it with the rest
    forgot = run_cli("memory", "forget", "--all", env=env)
    assert forgot.code == 0 and "the mind forgot" in forgot.stderr, forgot.stderr
    assert run_cli("think", "--codes", env=env).stdout.strip() == ""
    assert json.loads(lines[0])["kind"] == "turn"
