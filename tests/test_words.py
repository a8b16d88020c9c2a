"""One count of spoken words for the plan and the measurement (issue 9, defect 2).

The references are how the Piper voice (espeak-ng, en_US) reads each text aloud, written
out by hand, not what ``agent/words.py`` computes: e.g. espeak phonemises "1,250" as "one
thousand two hundred fifty" (five words, no "and") and "$5" as "dollar five".
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.lexicon import text_lexemes
from agent.lexicon import tokens as lexicon_tokens
from agent.melody import melody_table, plan_voice
from agent.scene import Scene
from agent.words import count_syllables, count_words, spoken_words
from modules.voice import analysis
from modules.voice.analysis.rhythm import rhythm
from modules.voice.speak.voicing import RATE_TOLERANCE, Voicing, sentence_plans, speech_span_s
from modules.voice.tts.piper import piper_voices

#: the voice the module announces by default; plans are anchored to it.
JOE = piper_voices()["joe"].profile()

MEET = "Meet me at 5 pm, room 12."
#: (text, the words it is spoken as, counted by hand from the voice's reading)
SPOKEN = [
    (MEET, 7),  # meet me at five pm room twelve
    (
        "In 2024 we paid 1,250 dollars.",
        13,
    ),  # in two thousand twenty four we paid one thousand two hundred fifty dollars
    ("It is 10% and $5.", 7),  # it is ten percent and dollar(s) five
    ("The 5th of May, at 5:30.", 7),  # the fifth of may at five thirty
    ("Pi is 3.14, version 1.2.3.", 12),  # pi is three point one four version one point two point three
    ("A well-known rock'n'roll song — don’t stop!", 7),
    ("— … ?", 0),
]


def reply(text: str) -> Scene:
    return Scene(channel="voice", kind="reply", text=text)


def planned_words(text: str) -> int:
    """The words the closed loop plans each sentence's rate with (agent.melody's pauses
    cut the text; voicing counts each sentence)."""
    return sum(u.n_words for u in sentence_plans(text, plan_voice(reply(text), own=JOE)))


def measured_words(text: str) -> float:
    """The words the analyser counts on the agent's rendered voice: its rate over a 1 s span."""
    pace = analysis.rhythm_from_text(text, np.full(100, -20.0), (0.0, 1.0), -120.0)
    return pace.rate_wps or 0.0


def heard_words(text: str) -> float:
    """The words the analyser counts in a user's speech: Whisper's word tokens as written
    ("12." is one token), each 1 s long."""
    words = [(w, float(i), float(i) + 1.0) for i, w in enumerate(text.split())]
    pace = rhythm(words, np.full(100 * len(words) + 1, -20.0), -120.0)
    return (pace.rate_wps or 0.0) * len(words)


@pytest.mark.parametrize(("text", "words"), SPOKEN)
def test_words_are_counted_as_the_voice_speaks_them(text, words) -> None:
    assert count_words(text) == words


def test_meet_me_at_5_pm_is_seven_words_in_plan_and_measurement() -> None:
    assert planned_words(MEET) == 7
    assert measured_words(MEET) == pytest.approx(7)
    assert heard_words(MEET) == pytest.approx(7)
    # The plan's duration is counted the same way: its one clause pause over 7 words' time.
    plan = plan_voice(reply(MEET), own=JOE)
    clause_s = melody_table()["register"]["logical"]["clause_pause_s"]
    assert plan.pause_ratio == pytest.approx(clause_s / (7 / plan.rate_wps), abs=1e-3)


def test_lexemes_are_the_letter_words_of_the_same_tokeniser() -> None:
    assert lexicon_tokens("Meet me at 5 pm, room 12; a well-known DON’T.") == [
        "meet",
        "me",
        "at",
        "pm",
        "room",
        "a",
        "well",
        "known",
        "don't",
    ]
    assert text_lexemes("Room 12, room 14 and the 5th floor.") == ["room", "floor"]
    assert count_syllables("12") == 1 and count_syllables("1,250") == 8 and count_syllables("%") == 2


_PIECES = st.sampled_from(
    [
        "Meet",
        "me",
        "at",
        "5",
        "pm,",
        "room",
        "12.",
        "1,250",
        "3.14",
        "5th",
        "10%",
        "$5",
        "don't",
        "well-known",
        "p.m.",
        "—",
        "?",
        "Dr.",
        "1.2.3",
        "2024",
        "x²",
        "½",
        "zwölf",
        "5:30",
        "and",
        "Will",
        "you?",
        "A",
        "road;",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=6)), min_size=1, max_size=14))
def test_plan_and_both_measurements_count_every_text_alike(pieces) -> None:
    text = " ".join(pieces)
    n = count_words(text)
    assert n == len(spoken_words(text))
    assert measured_words(text) == pytest.approx(n)
    assert heard_words(text) == pytest.approx(n)
    if text.strip():
        assert planned_words(text) == n


@pytest.fixture(scope="module")
def piper():
    from modules.voice.tts.piper import PiperTTS, piper_voices

    return PiperTTS(piper_voices()["joe"])


@pytest.mark.slow
def test_a_reply_with_numbers_is_spoken_at_its_planned_rate_without_a_wrong_correction(piper) -> None:
    plan = plan_voice(reply(MEET), own=JOE)
    voiced = Voicing(piper).render(MEET, plan)
    assert abs(voiced.fidelity.rate_error) <= RATE_TOLERANCE
    # By the hand count, independent of any counter: 7 words over the span of the speech.
    from modules.voice.io.audio import resample

    level_db = analysis.measure(resample(voiced.samples, piper.rate_hz, 16000), 16000).level_db
    start_s, end_s = speech_span_s(level_db)
    assert abs(7 / (end_s - start_s) / plan.rate_wps - 1) <= RATE_TOLERANCE
    # The first rendering was already on rate by the shared count: no rate to "correct".
    (sentence,) = voiced.sentences
    assert sentence.first_rate_error is not None and abs(sentence.first_rate_error) <= RATE_TOLERANCE
