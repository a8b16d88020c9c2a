"""The scene's JSON form: exact round trips, and malformed input refused by field name."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import REASONS, Problem
from agent.parts import Heard, Request, Result, RoomChoice, VoiceProfile
from agent.register import REGISTERS
from agent.scene import SCHEMA_VERSION, Hop, Scene, SceneError
from agent.sound import Sound
from agent.voiceplan import Pause, VoicePlan

names = st.from_regex(r"[a-z][a-z0-9_.\-]{0,15}", fullmatch=True)
lexeme = st.text(
    st.characters(blacklist_categories=("Zs", "Cc", "Cs", "Zl", "Zp"), blacklist_characters="+"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and not any(c.isspace() for c in s))
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
positive = st.floats(min_value=0, max_value=1e6, allow_nan=False)
unit = st.floats(min_value=0, max_value=1, allow_nan=False)
maybe = st.none().__or__

sounds = st.builds(
    Sound,
    duration_s=maybe(positive),
    speech_s=maybe(positive),
    voiced_ratio=maybe(unit),
    f0_median_hz=maybe(positive),
    f0_range_st=maybe(positive),
    contour=maybe(st.sampled_from(["rising", "falling", "flat", "rise-fall", "fall-rise"])),
    f0_final_slope_st_per_s=maybe(finite),
    energy_db=maybe(finite),
    snr_db=maybe(finite),
    energy_range_db=maybe(positive),
    energy_slope_db_per_s=maybe(finite),
    centroid_hz=maybe(positive),
    tilt_db_per_oct=maybe(finite),
    hnr_db=maybe(finite),
    timbre=maybe(st.lists(finite, max_size=24)),
    rate_wps=maybe(positive),
    rate_sps=maybe(positive),
    pause_ratio=maybe(unit),
    pause_positions_s=maybe(st.lists(finite, max_size=5)),
    onset_rate_hz=maybe(positive),
    roughness=maybe(unit),
)

plans = st.builds(
    VoicePlan,
    register=maybe(st.sampled_from(REGISTERS)),
    manner=maybe(st.text(max_size=10)),
    engine=maybe(names),
    voice=maybe(st.text(max_size=10)),
    f0_median_hz=maybe(st.floats(40, 1000)),
    f0_range_st=maybe(positive),
    contour=maybe(st.sampled_from(["rising", "falling"])),
    rate_wps=maybe(st.floats(0.5, 8)),
    energy_db=maybe(finite),
    brightness=maybe(st.floats(-1, 1)),
    pauses=st.lists(st.builds(Pause, after_word=st.integers(0, 50), duration_s=st.floats(0.01, 5)), max_size=3),
    nonverbal=maybe(st.sampled_from(["sigh", "hum", "breath", "silence"])),
    duration_s=maybe(positive),
    follows_speaker=st.booleans(),
)


@st.composite
def room_choices(draw) -> RoomChoice:
    heard = draw(
        st.lists(
            st.builds(Heard, site=names, scene_id=names, energy_db=maybe(finite), snr_db=maybe(finite)),
            min_size=1,
            max_size=3,
        )
    )
    return RoomChoice(room=heard[0].site, heard=heard, rule=draw(st.text(max_size=40)))


@st.composite
def scenes(draw) -> Scene:
    t_start = draw(maybe(st.floats(0, 1e5)))
    t_end = None if t_start is None else draw(maybe(st.floats(t_start, t_start + 1e4)))
    core_parts = draw(st.lists(lexeme, min_size=1, max_size=4))
    return Scene(
        channel=draw(names),
        kind=draw(names),
        id=draw(st.from_regex(r"[A-Za-z0-9_\-]{1,64}", fullmatch=True)),
        t_start=t_start,
        t_end=t_end,
        wall_start=draw(st.datetimes()).isoformat(timespec="milliseconds") + "Z",
        source=draw(maybe(st.text(max_size=30))),
        text=draw(maybe(st.text(max_size=80))),
        language=draw(maybe(st.sampled_from(["en", "de", "ru"]))),
        core=draw(maybe(st.just("+".join(core_parts)))),
        lexemes=draw(st.lists(lexeme, max_size=6)),
        mode=draw(maybe(st.text(max_size=12))),
        context=draw(maybe(st.text(max_size=12))),
        register=draw(maybe(st.sampled_from(REGISTERS))),
        sound=draw(maybe(sounds)),
        plan=draw(maybe(plans)),
        color=draw(maybe(st.from_regex(r"#[0-9A-Fa-f]{6}", fullmatch=True))),
        gesture=draw(maybe(st.text(max_size=20))),
        smell=draw(maybe(st.text(max_size=20))),
        vector=draw(maybe(st.lists(finite, max_size=16))),
        trust=draw(st.sampled_from(["anchor", "hypothesis"])),
        delta=draw(maybe(st.from_regex(r"Δ[0-9]{2,4}", fullmatch=True))),
        act=draw(maybe(names)),
        request=draw(maybe(st.builds(Request, path=maybe(st.text(max_size=20)), out_path=maybe(st.text(max_size=20))))),
        result=draw(
            maybe(
                st.builds(
                    Result,
                    path=maybe(st.text(max_size=20)),
                    device=maybe(st.text(max_size=20)),
                    count=maybe(st.integers(0, 10_000)),
                )
            )
        ),
        error=draw(
            maybe(
                st.builds(
                    Problem,
                    reason=st.sampled_from(sorted(REASONS)),
                    message=st.text(max_size=40),
                    subject=maybe(st.text(max_size=20)),
                )
            )
        ),
        room=draw(maybe(room_choices())),
        voice=draw(
            maybe(
                st.builds(
                    VoiceProfile,
                    engine=names,
                    voice=names,
                    f0_hz=st.just(100.0),
                    rate_wps=st.floats(0.5, 8),
                    min_f0_hz=st.floats(40, 100),
                    max_f0_hz=st.floats(100, 500),
                )
            )
        ),
        parents=draw(st.lists(st.from_regex(r"[a-f0-9]{32}", fullmatch=True), max_size=3)),
        hops=draw(st.lists(st.builds(Hop, stage=names, t_unix_s=st.floats(0, 2e9)), max_size=4)),
    )


@settings(max_examples=300, deadline=None)
@given(scenes())
def test_any_valid_scene_survives_json_round_trip_exactly(scene: Scene) -> None:
    text = scene.to_json()
    assert "\n" not in text
    assert Scene.from_json(text) == scene
    assert Scene.from_json(text).to_json() == text


def test_json_form_starts_with_schema_version_and_keeps_units_in_names() -> None:
    scene = Scene(channel="voice", kind="utterance", text="hi", sound=Sound(f0_median_hz=120.0, rate_wps=2.5))
    data = json.loads(scene.to_json())
    assert list(data)[0] == "schema" and data["schema"] == SCHEMA_VERSION
    assert data["sound"]["f0_median_hz"] == 120.0 and data["sound"]["rate_wps"] == 2.5


def _valid() -> dict:
    return Scene(
        channel="voice", kind="utterance", text="hello", core="hello+world", sound=Sound(f0_median_hz=110.0)
    ).to_dict()


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d.pop("channel"), "scene.channel", "required"),
        (lambda d: d.update(schema=3), "scene.schema", "not supported"),
        (lambda d: d.update(schema=True), "scene.schema", "not supported"),
        (lambda d: d.pop("schema"), "scene.schema", "missing"),
        (lambda d: d.update(colour="#ffffff"), "scene.colour", "unknown field"),
        (lambda d: d.update(kind="Utterance!"), "scene.kind", "lower-case"),
        (lambda d: d.update(core="a+b+c+d+e"), "scene.core", "1–4 lexemes"),
        (lambda d: d.update(core="two words"), "scene.core", "without spaces"),
        (lambda d: d.update(lexemes=["ok", 3]), "scene.lexemes[1]", "expected a string"),
        (lambda d: d.update(register="lyrical"), "scene.register", "not one of"),
        (lambda d: d.update(trust="maybe"), "scene.trust", "not one of"),
        (lambda d: d.update(color="red"), "scene.color", "#RRGGBB"),
        (lambda d: d.update(delta="D02"), "scene.delta", "Δ"),
        (lambda d: d.update(t_start=2.0, t_end=1.0), "scene.t_end", "before t_start"),
        (lambda d: d.update(wall_start="yesterday"), "scene.wall_start", "ISO 8601"),
        (lambda d: d["sound"].update(f0_median_hz="high"), "scene.sound.f0_median_hz", "expected a number"),
        (lambda d: d["sound"].update(pause_ratio=1.5), "scene.sound.pause_ratio", "0..1"),
        (lambda d: d["sound"].update(f0_hz=100), "scene.sound.f0_hz", "unknown field"),
        (lambda d: d.update(plan={"rate_wps": 20}), "scene.plan.rate_wps", "0.5..8"),
        (
            lambda d: d.update(plan={"pauses": [{"after_word": -1, "duration_s": 0.2}]}),
            "scene.plan.pauses[0].after_word",
            "negative",
        ),
        (lambda d: d.update(hops=[{"stage": "x"}]), "scene.hops[0].t_unix_s", "required"),
        (lambda d: d.update(parents="abc"), "scene.parents", "expected a list"),
        (lambda d: d.update(vector=[1.0, None]), "scene.vector[1]", "null"),
    ],
)
def test_malformed_scene_is_refused_naming_the_field(mutate, field: str, words: str) -> None:
    data = _valid()
    mutate(data)
    with pytest.raises(SceneError) as info:
        Scene.from_json(json.dumps(data))
    assert info.value.field == field
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"schema": 1, "channel": "voice", "kind": "x", "t_start": NaN}', "finite"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_text_that_is_not_a_scene_object_is_refused(text, words: str) -> None:
    with pytest.raises(SceneError, match=words):
        Scene.from_json(text)


def test_derive_links_parent_and_carries_the_hops_forward() -> None:
    parent = Scene(channel="voice", kind="turn").with_hop("voice.out").with_hop("mind.in")
    child = parent.derive(kind="reply", text="ok")
    assert child.parents == [parent.id] and child.id != parent.id
    assert [h.stage for h in child.hops] == ["voice.out", "mind.in"]
    assert child.channel == "voice"
    assert parent.hop_latencies_s()[0][0] == "mind.in"


def _mutable_parts(obj, path: str = "scene") -> dict[str, object]:
    """Every list and every non-frozen dataclass inside ``obj``, by dotted path."""
    import dataclasses

    found: dict[str, object] = {}
    if isinstance(obj, list):
        found[path] = obj
        for i, item in enumerate(obj):
            found.update(_mutable_parts(item, f"{path}[{i}]"))
    elif dataclasses.is_dataclass(obj):
        if not type(obj).__dataclass_params__.frozen:
            found[path] = obj
        for f in dataclasses.fields(obj):
            found.update(_mutable_parts(getattr(obj, f.name), f"{path}.{f.name}"))
    return found


@settings(max_examples=100, deadline=None)
@given(scenes())
def test_a_private_copy_is_equal_and_shares_no_mutable_part(scene: Scene) -> None:
    twin = scene.copy()
    assert twin == scene and twin.id == scene.id
    original, copied = _mutable_parts(scene), _mutable_parts(twin)
    assert original.keys() == copied.keys()
    shared = [path for path, part in original.items() if copied[path] is part]
    assert shared == []


def test_with_hop_adds_one_hop_to_a_private_copy_and_leaves_the_original() -> None:
    scene = Scene(channel="voice", kind="reply", lexemes=["a"], plan=VoicePlan(pauses=[Pause(0, 0.2)]))
    hopped = scene.with_hop("mind.out", t_unix_s=12.5)
    assert scene.hops == [] and hopped.hops == [Hop("mind.out", 12.5)]
    hopped.plan.pauses[0].duration_s = 1.0
    hopped.lexemes.append("b")
    assert scene.plan.pauses[0].duration_s == 0.2 and scene.lexemes == ["a"]


def test_schema_1_scenes_on_users_disks_are_read_with_each_field_where_schema_2_keeps_it() -> None:
    # What `say` (schema 1) wrote beside a WAV, and what the bus carried then.
    spoken = Scene.from_json(
        '{"schema": 1, "channel": "voice", "kind": "spoken", "text": "Hello.", '
        '"context": "greeting", "source": "out.wav", "register": "poetic"}'
    )
    assert (spoken.text, spoken.act, spoken.context, spoken.source) == ("Hello.", "greeting", None, None)
    assert spoken.result == Result(path="out.wav") and spoken.register == "poetic"
    error = Scene.from_json(
        '{"schema": 1, "channel": "system", "kind": "error", "text": "cannot write x", "context": "input.output_path"}'
    )
    assert error.error == Problem(reason="input.output-path", message="cannot write x")
    assert (error.text, error.context) == (None, None) and error.error.exit_code == 2
    plot = Scene.from_json('{"schema": 1, "channel": "voice", "kind": "plot", "source": "a.json", "context": "a.png"}')
    assert plot.request == Request(path="a.json", out_path="a.png") and plot.source is None
    done = Scene.from_json('{"schema": 1, "channel": "voice", "kind": "done", "text": "3 scenes", "source": "x.wav"}')
    assert done.result == Result(count=3) and done.text is None
    heard = Scene.from_json('{"schema": 1, "channel": "voice", "kind": "utterance", "text": "hi", "source": "x.wav"}')
    assert (heard.text, heard.source) == ("hi", "x.wav"), "a heard scene's source is still where it came from"
    assert json.loads(spoken.to_json())["schema"] == SCHEMA_VERSION == 2


@pytest.mark.parametrize(
    ("part", "field"),
    [
        ('"error": {"reason": "input.typo", "message": "m", "subject": null}', "scene.error.reason"),
        ('"result": {"path": null, "device": null, "count": -1}', "scene.result.count"),
        (
            '"voice": {"engine": "piper", "voice": "joe", "f0_hz": 50.0, "rate_wps": 3.0, '
            '"min_f0_hz": 80.0, "max_f0_hz": 250.0}',
            "scene.voice.f0_hz",
        ),
    ],
)
def test_typed_parts_refuse_what_their_types_cannot_say(part, field) -> None:
    with pytest.raises(SceneError) as caught:
        Scene.from_json('{"schema": 2, "channel": "system", "kind": "x", ' + part + "}")
    assert caught.value.field == field
