"""The wake phrase: which heard texts are addressed to the agent (``listen/wake.py``)."""

from __future__ import annotations

from modules.voice.listen.wake import WakeGate


def test_a_turn_is_taken_when_it_begins_with_the_phrase_or_follows_within_the_window() -> None:
    now = [0.0]
    gate = WakeGate("hey computer", 8.0, lambda: now[0])
    assert gate.enabled and not gate.awake
    assert gate.take("What time is it?") is None
    assert gate.take("Hey, Computer! What time is it?") == "What time is it?"
    now[0] += 5.0
    assert gate.take("And the date?") == "And the date?", "a follow-up within the window"
    now[0] += 8.5
    assert gate.take("And the weather?") is None, "the window closed 8 s after the last turn taken"
    # Whisper's spellings, a word before it, the phrase alone
    assert gate.take("Hey computa, lights on.") == "Lights on."
    now[0] += 20
    assert gate.take("Oh, hey computer, what is up?") == "What is up?"
    now[0] += 20
    assert gate.take("Hey computer.") == "", "the phrase alone: awake, nothing to answer yet"
    assert gate.awake
    now[0] += 20
    assert gate.take("A computer.") == "", "Whisper's reading of Piper's 'Hey computer.'"
    now[0] += 20
    assert gate.take("Computer science is hard.") is None
    assert gate.take("I said hello to my computer later on.") is None, "the phrase must begin a sentence"
    now[0] += 20
    said = "The child almost hurt the small dog. Hey computer, what time is it?"
    assert gate.take(said) == "What time is it?", "from the sentence the phrase begins"


def test_partials_and_drafts_are_checked_without_opening_the_window() -> None:
    now = [0.0]
    gate = WakeGate("hey computer", 8.0, lambda: now[0])
    assert not gate.addresses("the child almost")
    assert gate.addresses("Hey computer what")
    assert gate.take("Hey computer, what time is it?", commit=False) == "What time is it?"
    assert not gate.awake, "a draft does not open the window"


def test_without_a_phrase_everything_is_taken() -> None:
    gate = WakeGate("", 8.0)
    assert not gate.enabled and gate.awake
    assert gate.take("Anything at all.") == "Anything at all." and gate.addresses(None)
