"""The mind on the bus (same-field replies, drafts, fusion) and the same-field voice plan.

The scene machinery itself (compression, unfolding, trust, Δ-codes, mood, replies) is
tested in ``tests/test_mind.py``."""

from __future__ import annotations

import asyncio
import math

import pytest
from conftest import joe_profile
from hypothesis import given
from hypothesis import strategies as st

from agent.bus import SceneBus
from agent.lexicon import core_of, sound_lexemes, text_lexemes
from agent.melody import (
    MANNERS,
    FieldRule,
    follow_pitch_hz,
    follow_rate_wps,
    plan_voice,
)
from agent.mind import Mind
from agent.module import ModuleConfigError
from agent.register import REGISTERS
from agent.scene import Scene
from agent.sound import Sound


def _replies_of(*published: Scene) -> list[Scene]:
    """The replies a Mind on a real bus publishes after ``published`` (from "voice")."""

    async def main():
        replies = []

        async def collect(s):
            replies.append(s)

        mind = Mind({"store": ":memory:"})
        bus = SceneBus()
        bus.subscribe("mind", mind.handle, mind.wants)
        bus.subscribe("out", collect, lambda s: s.kind in ("reply", "reply.draft"))
        async with bus:
            await mind.start(bus)
            for scene in published:
                await bus.publish(scene, source="voice")
            await asyncio.sleep(0.1)
        return replies

    return asyncio.run(main())


def test_the_mind_on_the_bus_answers_a_turn_with_a_planned_reply_in_the_same_field() -> None:
    heard = Scene(
        channel="voice",
        kind="turn",
        text="The child almost hurt the small dog.",
        core="hurt+dog+child",
        mode="calm",
        register="bodily",
        sound=Sound(f0_median_hz=207.5, rate_wps=2.5),
    )

    (reply,) = _replies_of(Scene(channel="voice", kind="voice.profile", voice=joe_profile()), heard)
    assert reply.parents[0] == heard.id, "it answers the turn (and names its thought)"
    assert (reply.core, reply.mode, reply.register) == ("hurt+dog+child", "calm", "bodily")
    plan = reply.plan
    assert plan.follows_speaker and plan.manner == "plain", "one turn does not make a mood"
    assert plan.sentence_contours[0] == "rise-fall", "the seed's bodily voice: rising, then falling"
    assert plan.engine is None, "the plan leaves the engine to the config"
    # The same-field rule against the same reply planned for nobody: half-way toward
    # 207.5 Hz is far more than the default 4 st, so the shift is capped at 4 st; the
    # rate moves half-way toward 2.5 words/s (well inside a quarter).
    alone = plan_voice(
        Scene(channel="voice", kind="reply", text=reply.text, register="bodily", mode="calm"), own=joe_profile()
    )
    assert plan.voice == "joe", "planned for the voice the voice module announced"
    assert 0.5 * 12 * math.log2(207.5 / alone.f0_median_hz) > 4.0
    assert 12 * math.log2(plan.f0_median_hz / alone.f0_median_hz) == pytest.approx(4.0, abs=0.01)
    assert plan.rate_wps == pytest.approx(alone.rate_wps + 0.5 * (2.5 - alone.rate_wps), abs=1e-3)
    assert plan.cues == ["breath"] and plan.emphasis == ["hurt", "dog", "child"]
    assert [h.stage for h in reply.hops] == ["voice.out", "mind.in", "mind.out", "out.in"]


def test_a_draft_is_answered_as_its_turn_will_be_and_nothing_of_it_is_remembered() -> None:
    profile = Scene(channel="voice", kind="voice.profile", voice=joe_profile())
    said = Scene(channel="voice", kind="turn", text="My name is Anna.", core="anna")
    sound = Sound(f0_median_hz=180.0, rate_wps=3.0)
    draft = Scene(channel="voice", kind="turn.draft", text="I was thinking.", core="thinking", sound=sound)
    turn = Scene(channel="voice", kind="turn", text="I was thinking.", core="thinking", sound=sound)
    went_on = Scene(channel="voice", kind="turn", text="What did I just say?")

    named, drafted, answered, recalled = _replies_of(profile, said, draft, turn, went_on)
    assert drafted.kind == "reply.draft" and drafted.parents == [draft.id]
    assert answered.kind == "reply" and answered.parents[0] == turn.id
    # The draft's reply is the turn's, word for word and plan for plan: it can be realised ahead.
    assert (drafted.text, drafted.plan) == (answered.text, answered.plan)
    assert "Anna" in named.text
    # Only the turn was remembered: "what did I just say" finds it once, not the draft twice.
    assert recalled.text == "You said: I was thinking."
    draft_only = _replies_of(draft, Scene(channel="voice", kind="turn", text="What did I just say?"))
    assert draft_only[-1].text == "You have not said anything before this."


def test_before_a_voice_is_announced_the_mind_leaves_the_plan_to_the_speaking_module() -> None:
    heard = Scene(channel="voice", kind="turn", text="Hello there.", sound=Sound(f0_median_hz=120.0))

    (reply,) = _replies_of(heard)
    assert reply.text and reply.plan is None and reply.act == "greeting" and reply.context is None


def test_the_mind_refuses_its_old_voice_option_and_names_where_the_voice_is_chosen() -> None:
    with pytest.raises(ModuleConfigError, match="modules.voice.voice"):
        Mind({"voice": "piper.joe"})


@pytest.mark.parametrize(
    ("heard_hz", "pull", "expected_st"),
    [
        (96.0 * 2 ** (2 / 12), 0.5, 1.0),
        (96.0 * 2 ** (-2 / 12), 0.5, -1.0),
        (400.0, 0.5, 4.0),
        (40.0, 1.0, -4.0),
        (150.0, 0.0, 0.0),
    ],
)
def test_pitch_follows_the_speaker_by_pull_within_bounds(heard_hz, pull, expected_st) -> None:
    got = follow_pitch_hz(96.0, heard_hz, FieldRule(pull=pull, max_shift_st=4.0))
    assert 12 * math.log2(got / 96.0) == pytest.approx(expected_st, abs=1e-9)


def test_rate_follows_the_speaker_within_a_quarter_and_not_when_switched_off() -> None:
    rule = FieldRule(pull=0.5, max_rate_change=0.25)
    assert follow_rate_wps(4.0, 3.0, rule) == pytest.approx(3.5)
    assert follow_rate_wps(4.0, 1.0, rule) == pytest.approx(3.0)
    assert follow_rate_wps(4.0, 9.0, rule) == pytest.approx(5.0)
    assert follow_rate_wps(4.0, 2.0, FieldRule(follow_speaker=False)) == 4.0
    plan = plan_voice(
        Scene(channel="voice", kind="reply", text="Are you there?"),
        Sound(f0_median_hz=200, rate_wps=2),
        own=joe_profile(),
        rule=FieldRule(follow_speaker=False),
    )
    assert not plan.follows_speaker and plan.contour == "rising"
    for other in (None, Sound(f0_median_hz=90, rate_wps=5)):  # switched off: the heard voice changes nothing
        again = plan_voice(
            Scene(channel="voice", kind="reply", text="Are you there?"),
            other,
            own=joe_profile(),
            rule=FieldRule(follow_speaker=False),
        )
        assert (again.f0_median_hz, again.rate_wps) == (plan.f0_median_hz, plan.rate_wps)


@given(own=st.floats(60, 300), heard=st.floats(40, 600), pull=st.floats(0, 1), cap=st.floats(0, 12))
def test_followed_pitch_moves_toward_the_heard_voice_never_past_it_nor_past_the_cap(own, heard, pull, cap) -> None:
    got = follow_pitch_hz(own, heard, FieldRule(pull=pull, max_shift_st=cap))
    shift, distance = 12 * math.log2(got / own), 12 * math.log2(heard / own)
    assert abs(shift) <= cap + 1e-9  # the cap
    assert shift * distance >= -1e-12 and abs(shift) <= abs(distance) + 1e-9  # toward it, never beyond
    more = follow_pitch_hz(own, heard, FieldRule(pull=min(1.0, pull + 0.1), max_shift_st=cap))
    assert abs(12 * math.log2(more / own)) >= abs(shift) - 1e-9  # a stronger pull moves no less


@given(own=st.floats(1, 6), heard=st.floats(0.5, 9), pull=st.floats(0, 1), change=st.floats(0, 0.5))
def test_followed_rate_moves_toward_the_heard_rate_within_its_bounds(own, heard, pull, change) -> None:
    got = follow_rate_wps(own, heard, FieldRule(pull=pull, max_rate_change=change))
    assert own * (1 - change) - 1e-9 <= got <= own * (1 + change) + 1e-9
    assert (got - own) * (heard - own) >= -1e-12 and abs(got - own) <= abs(heard - own) + 1e-9


def _plan(
    register: str,
    manner: str | None = None,
    text: str = "The road was long, and the night was cold.",
    heard: Sound | None = None,
):
    return plan_voice(
        Scene(channel="voice", kind="reply", text=text, register=register), heard, own=joe_profile(), manner=manner
    )


def test_a_question_ends_rising_in_every_register_and_manner() -> None:
    for register in REGISTERS:
        for manner in MANNERS:
            plan = _plan(register, manner, "The road was long. Will you walk with me?")
            assert plan.contour == "rising" and plan.sentence_contours[-1] == "rising", (register, manner)
            statement = _plan(register, manner, "Will you walk with me? The road was long.")
            assert statement.sentence_contours[0] == "rising" and statement.contour != "rising", (register, manner)


def test_registers_keep_the_characters_the_seed_gives_them() -> None:
    plans = {r: _plan(r) for r in REGISTERS}
    logical, poetic, emotional = plans["logical"], plans["poetic"], plans["emotional"]
    archetypal, bodily = plans["archetypal"], plans["bodily"]
    # poetic: unhurried and sung, lingering: slower than logical, a wider pitch, longer pauses.
    assert poetic.rate_wps < logical.rate_wps and poetic.f0_range_st > logical.f0_range_st
    assert poetic.pause_ratio > logical.pause_ratio
    # emotional: moved, a wider and higher pitch, quicker and louder than logical.
    assert emotional.f0_range_st > logical.f0_range_st and emotional.f0_median_hz > logical.f0_median_hz
    assert emotional.rate_wps > logical.rate_wps and emotional.energy_db > logical.energy_db
    # archetypal: slow, low and weighty, with long silences: the lowest voice of all, slower
    # and with longer pauses than logical and emotional (poetic, "unhurried" and "lingering"
    # in its light manner, may be as slow and pause as long).
    assert archetypal.f0_median_hz == min(p.f0_median_hz for p in plans.values())
    assert archetypal.rate_wps < min(logical.rate_wps, emotional.rate_wps)
    assert archetypal.pause_ratio > max(logical.pause_ratio, emotional.pause_ratio)
    # bodily: deep and warm (dark), slow with pauses, rising then falling.
    assert bodily.f0_median_hz < logical.f0_median_hz and bodily.brightness < logical.brightness
    assert bodily.rate_wps < logical.rate_wps and bodily.pause_ratio > logical.pause_ratio
    assert bodily.contour == "rise-fall"


def test_manners_change_a_register_the_way_the_seed_names_them() -> None:
    # Planned for a 140 Hz listener, so that every plan sits well above the deep Piper
    # voice's 80 Hz floor and no range is cut by the voice's usable range.
    heard = Sound(f0_median_hz=140.0)
    for register in REGISTERS:
        plain = _plan(register, "plain", heard=heard)
        cold, strained = _plan(register, "cold", heard=heard), _plan(register, "strained", heard=heard)
        light, compressed = _plan(register, "light", heard=heard), _plan(register, "compressed", heard=heard)
        # cold: level, steady, withdrawn — narrower, quieter, darker, and it falls.
        assert cold.f0_range_st < plain.f0_range_st and cold.energy_db < plain.energy_db, register
        assert cold.brightness <= plain.brightness and cold.contour == "falling", register
        # strained: high, tense, pressed — higher, wider, louder.
        assert strained.f0_median_hz > plain.f0_median_hz and strained.energy_db > plain.energy_db, register
        assert strained.f0_range_st > plain.f0_range_st, register
        # light: higher, airy, unhurried — higher, slower, longer pauses, brighter.
        assert light.f0_median_hz > plain.f0_median_hz and light.rate_wps < plain.rate_wps, register
        assert light.pause_ratio > plain.pause_ratio and light.brightness >= plain.brightness, register
        # compressed: quick and clipped, few pauses.
        assert compressed.rate_wps > plain.rate_wps and compressed.pause_ratio < plain.pause_ratio, register


def test_core_picks_the_rarest_and_most_repeated_content_words() -> None:
    assert core_of("The child almost hurt the small dog.") == "hurt+dog+child"
    assert (
        core_of(
            "And so my fellow Americans ask not what your country can do for you ask what you can do for your country"
        )
        == "ask+country+fellow"
    )
    assert core_of("and so it is") is None
    assert text_lexemes("The dog, the DOG and the cat!") == ["dog", "cat"]


def test_a_sound_without_words_is_described_by_lexemes_from_its_measures() -> None:
    assert sound_lexemes(
        Sound(energy_db=-12, f0_median_hz=480, voiced_ratio=0.5, duration_s=5, roughness=0.1, onset_rate_hz=0.2)
    ) == ["loud", "high", "long", "smooth", "steady"]
    assert sound_lexemes(Sound(energy_db=-45, centroid_hz=500, duration_s=0.5, roughness=0.6, onset_rate_hz=4)) == [
        "faint",
        "low",
        "brief",
        "rough",
        "pulsing",
    ]


def test_a_turn_heard_while_other_channels_perceived_something_is_fused_and_answered() -> None:
    from agent.odor import Odor
    from agent.sight import Sight
    from agent.touch import Touch

    sight = Scene(
        channel="vision",
        kind="sight",
        color="#1F2E4D",
        core="dark+cold",
        lexemes=["dark", "cold"],
        sight=Sight(dominant_colors=["#1F2E4D"], color_shares=[1.0], brightness=0.2),
    )
    smell = Scene(
        channel="smell",
        kind="smell",
        smell="smoke and damp",
        core="smoke+damp",
        lexemes=["smoke", "damp"],
        odor=Odor(voc_index=380.0, humidity_pct=78.0),
    )
    tap = Scene(channel="tactile", kind="gesture", gesture="tap", core="touch+short", touch=Touch(kind="tap"))
    turn = Scene(
        channel="voice", kind="turn", text="The kitchen is quiet tonight.", core="kitchen+tonight", mode="calm"
    )
    (reply,) = _replies_of(Scene(channel="voice", kind="voice.profile", voice=joe_profile()), sight, smell, tap, turn)
    assert reply.channel == "voice" and reply.plan is not None
    assert "I also notice smoke and damp, and see dark and cold, and feel a tap." in reply.text, reply.text
    # The reply answers the fused scene, which lists every source and carries each channel.
    assert reply.parents[0] != turn.id and reply.core == "kitchen+quiet+tonight+smoke", reply.core


def test_nothing_is_fused_outside_the_window() -> None:
    from agent.fusion import Fusion

    fusion = Fusion(window_s=5.0)
    smell = Scene(channel="smell", kind="smell", smell="coffee", core="coffee", lexemes=["coffee"])
    fusion.keep(smell, now_s=100.0)
    turn = Scene(channel="voice", kind="turn", text="Good morning.", core="morning")
    assert fusion.fuse(turn, now_s=105.0 + 1e-6) is None
    fused = fusion.fuse(turn, now_s=104.0)
    assert fused is not None and fused.parents == [turn.id, smell.id] and fused.smell == "coffee"
    assert fused.text == turn.text and fused.core == "morning+coffee" and fused.kind == "fused"
    assert Fusion(window_s=0.0).fuse(turn) is None
