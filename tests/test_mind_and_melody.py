"""The rule-based mind (replies, session memory) and the same-field voice plan."""

from __future__ import annotations

import asyncio
import math

import pytest

from agent.bus import SceneBus
from agent.lexicon import core_of, sound_lexemes, text_lexemes
from agent.melody import FieldRule, follow_pitch_hz, follow_rate_wps, melody_table, natural_voice, plan_voice
from agent.mind import Mind, SessionMemory, compose_reply
from agent.scene import Scene
from agent.sound import Sound


def test_the_mind_remembers_a_name_and_what_was_said_for_the_session() -> None:
    memory = SessionMemory()
    assert compose_reply("What is my name?", memory) == ("You have not told me your name yet.", "name-recall")
    assert compose_reply("Hello, my name is anna.", memory)[0] == "Nice to meet you, Anna. I will remember your name."
    reply, act = compose_reply("The river was cold this morning.", memory, core="river+cold")
    assert act == "statement" and "The river was cold this morning" in reply
    assert compose_reply("What is my name?", memory)[0] == "Your name is Anna."
    assert compose_reply("What did I say?", memory)[0] == "You said: What is my name."
    assert compose_reply("Hi there", memory)[0] == "Hello, Anna. I am listening."
    assert memory.heard[2] == "The river was cold this morning."


def test_a_statement_recalls_the_previous_core_and_a_question_is_acknowledged() -> None:
    memory = SessionMemory()
    compose_reply("The child almost hurt the small dog.", memory, core="hurt+dog+child")
    reply, _ = compose_reply("A thin stripe runs down the middle.", memory, core="stripe+thin+runs")
    assert reply.endswith("Earlier you spoke about hurt, dog, child.")
    reply, act = compose_reply("Why is the sky blue", memory)
    assert act == "question" and reply.startswith("You asked: Why is the sky blue?")


def test_a_long_statement_is_echoed_in_at_most_24_words() -> None:
    reply, _ = compose_reply(" ".join(f"w{i}" for i in range(60)), SessionMemory())
    assert len(reply.split(":", 1)[1].split()) <= 25


def test_the_mind_on_the_bus_answers_a_turn_with_a_planned_reply_in_the_same_field() -> None:
    heard = Scene(channel="voice", kind="turn", text="The child almost hurt the small dog.",
                  core="hurt+dog+child", mode="calm", register="bodily",
                  sound=Sound(f0_median_hz=207.5, rate_wps=2.5))

    async def main():
        replies = []

        async def collect(s):
            replies.append(s)

        mind = Mind({"voice": "piper.joe"})
        bus = SceneBus()
        bus.subscribe("mind", mind.handle, mind.wants)
        bus.subscribe("out", collect, lambda s: s.kind == "reply")
        async with bus:
            await mind.start(bus)
            await bus.publish(heard, source="voice")
            await asyncio.sleep(0.1)
        return replies

    (reply,) = asyncio.run(main())
    assert reply.parents == [heard.id]
    assert (reply.core, reply.mode, reply.register) == ("hurt+dog+child", "calm", "bodily")
    plan = reply.plan
    row = melody_table()["register"]["bodily"]
    assert plan.follows_speaker and plan.contour == row["contour"] == "rise-fall"
    assert plan.engine is None, "the plan leaves the engine to the config"
    # Bodily sits 1.5 st below the voice; half-way toward 207.5 Hz is far more than 4 st: capped.
    own_f0 = natural_voice("piper", "joe").f0_hz * 2 ** (row["f0_shift_st"] / 12)
    assert plan.f0_median_hz == pytest.approx(own_f0 * 2 ** (4 / 12), abs=0.01)
    own_rate = melody_table()["base_rate_wps"] * row["rate_factor"]
    assert plan.rate_wps == pytest.approx(own_rate + 0.5 * (2.5 - own_rate), abs=1e-3)
    assert plan.cues == ["breath"] and plan.emphasis == ["hurt", "dog", "child"]
    assert [h.stage for h in reply.hops] == ["voice.out", "mind.in", "mind.out", "out.in"]


@pytest.mark.parametrize(("heard_hz", "pull", "expected_st"), [
    (96.0 * 2 ** (2 / 12), 0.5, 1.0), (96.0 * 2 ** (-2 / 12), 0.5, -1.0),
    (400.0, 0.5, 4.0), (40.0, 1.0, -4.0), (150.0, 0.0, 0.0),
])
def test_pitch_follows_the_speaker_by_pull_within_bounds(heard_hz, pull, expected_st) -> None:
    got = follow_pitch_hz(96.0, heard_hz, FieldRule(pull=pull, max_shift_st=4.0))
    assert 12 * math.log2(got / 96.0) == pytest.approx(expected_st, abs=1e-9)


def test_rate_follows_the_speaker_within_a_quarter_and_not_when_switched_off() -> None:
    rule = FieldRule(pull=0.5, max_rate_change=0.25)
    assert follow_rate_wps(4.0, 3.0, rule) == pytest.approx(3.5)
    assert follow_rate_wps(4.0, 1.0, rule) == pytest.approx(3.0)
    assert follow_rate_wps(4.0, 9.0, rule) == pytest.approx(5.0)
    assert follow_rate_wps(4.0, 2.0, FieldRule(follow_speaker=False)) == 4.0
    plan = plan_voice(Scene(channel="voice", kind="reply", text="Are you there?"),
                      Sound(f0_median_hz=200, rate_wps=2), rule=FieldRule(follow_speaker=False))
    assert not plan.follows_speaker and plan.contour == "rising"
    assert plan.f0_median_hz == natural_voice("piper", "joe").f0_hz  # logical: no shift
    assert plan.rate_wps == melody_table()["base_rate_wps"]


def test_core_picks_the_rarest_and_most_repeated_content_words() -> None:
    assert core_of("The child almost hurt the small dog.") == "hurt+dog+child"
    assert core_of("And so my fellow Americans ask not what your country can do for you "
                   "ask what you can do for your country") == "ask+country+fellow"
    assert core_of("and so it is") is None
    assert text_lexemes("The dog, the DOG and the cat!") == ["dog", "cat"]


def test_a_sound_without_words_is_described_by_lexemes_from_its_measures() -> None:
    assert sound_lexemes(Sound(energy_db=-12, f0_median_hz=480, voiced_ratio=0.5, duration_s=5,
                               roughness=0.1, onset_rate_hz=0.2)) == ["loud", "high", "long", "smooth", "steady"]
    assert sound_lexemes(Sound(energy_db=-45, centroid_hz=500, duration_s=0.5, roughness=0.6,
                               onset_rate_hz=4)) == ["faint", "low", "brief", "rough", "pulsing"]
