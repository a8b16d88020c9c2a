"""The terminal view of ``run.py talk``: states, the partial transcript, each exchange with
its latency on a terminal; JSON lines elsewhere."""

from __future__ import annotations

import io
import json

from agent.cli.view import TalkView, latency_s
from agent.parts import Result
from agent.scene import Hop, Scene


def _session() -> list[Scene]:
    turn = Scene(channel="voice", kind="turn", text="The child almost hurt the small dog.")
    spoken = Scene(
        channel="voice",
        kind="spoken",
        text="Tell me more about the dog.",
        hops=[Hop("voice.speech_end", 100.0), Hop("voice.audio.first", 100.48)],
        result=Result(device="speaker"),
    )
    return [
        Scene(channel="voice", kind="listening", result=Result(device="mic")),
        Scene(channel="voice", kind="partial", text="The child almost"),
        Scene(channel="voice", kind="partial", text="The child almost hurt the"),
        turn,
        Scene(channel="voice", kind="reply", text="Tell me more about the dog."),
        spoken,
    ]


def test_on_a_terminal_the_state_the_partial_words_and_each_exchange_with_its_latency_are_shown() -> None:
    out = io.StringIO()
    view = TalkView(live=True, stream=out)
    states = []
    for scene in _session():
        view.show(scene)
        states.append(view.state)
    view.close()
    text = out.getvalue()
    assert states == ["listening", "hearing", "hearing", "thinking", "speaking", "listening"]
    assert "[hearing] The child almost hurt the" in text
    assert "you:   The child almost hurt the small dog.\n" in text
    assert "agent: Tell me more about the dog.  (0.48 s)\n" in text
    assert text.endswith("\n") and "\x1b[K" in text


def test_elsewhere_every_scene_but_listening_is_a_json_line(capsys) -> None:
    view = TalkView(live=False)
    for scene in _session():
        view.show(scene)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [s["kind"] for s in lines] == ["partial", "partial", "turn", "reply", "spoken"]


def test_the_latency_needs_both_hops() -> None:
    assert latency_s(Scene(channel="voice", kind="spoken", hops=[Hop("voice.speech_end", 1.0)])) is None
    assert abs(latency_s(_session()[-1]) - 0.48) < 1e-9
