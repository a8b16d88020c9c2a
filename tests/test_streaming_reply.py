"""A reply streams: its first clause or sentence is realised and yielded before the rest is
rendered, and the whole still comes out on its plan (the real Piper voice)."""

from __future__ import annotations

import dataclasses

import pytest

from agent.melody import plan_voice
from agent.scene import Scene
from modules.voice.speak.prepared import PreparedReply
from modules.voice.speak.voicing import FIRST_CHUNK_MIN_WORDS, Voicing, first_clause_apart, sentence_plans
from modules.voice.tts.piper import PiperTTS, piper_voice

pytestmark = pytest.mark.slow

LONG = "I heard you say: The child almost hurt the small dog. Tell me more about the dog. Was it yours?"


class Logged:
    """The real Piper voice, with a log of every clause it was asked to render."""

    def __init__(self, tts: PiperTTS) -> None:
        self.tts, self.rendered = tts, []
        self.name, self.rate_hz, self.voices_cues = tts.name, tts.rate_hz, tts.voices_cues

    def render(self, text, plan, first=False):
        self.rendered.append(text)
        return self.tts.render(text, plan, first)


@pytest.fixture(scope="module")
def joe() -> tuple[PiperTTS, object]:
    info = piper_voice("joe")
    return PiperTTS(info), info.profile()


def test_the_first_clause_plays_before_any_later_sentence_is_rendered(joe) -> None:
    tts, profile = joe
    plan = plan_voice(Scene(channel="voice", kind="reply", text=LONG), None, own=profile)
    engine = Logged(tts)
    voicing = Voicing(engine)
    pieces = voicing.sentences(LONG, plan, first_fast=True)
    first = next(pieces)
    assert engine.rendered == ["I heard you say:"]
    assert 0.3 < len(first) / tts.rate_hz < 2.0
    rest = list(pieces)
    assert engine.rendered[1:] == [
        "The child almost hurt the small dog.",
        "Tell me more about the dog.",
        "Was it yours?",
    ]
    voiced = voicing.finish([first, *rest], LONG, plan)
    # Measured after playing: still on plan (the closed loop's own tolerances, whole reply).
    assert abs(voiced.fidelity.f0_error_st) <= 0.5 and abs(voiced.fidelity.rate_error) <= 0.05, voiced.fidelity
    # The sentences after the first were checked and corrected as before; the first was not.
    assert voicing.reports[0].first_f0_error_st is None and all(
        r.first_f0_error_st is not None for r in voicing.reports[1:]
    )


def test_a_first_sentence_of_four_words_or_more_is_cut_at_its_first_clause(joe) -> None:
    _, profile = joe
    short = "Yes, Anna. I will remember your name."
    four = "Nice to meet you, Anna. I will remember your name."
    for text, apart in ((short, False), (four, True), (LONG, True)):
        plan = plan_voice(Scene(channel="voice", kind="reply", text=text), None, own=profile)
        units = sentence_plans(text, plan)
        split = first_clause_apart(units)
        assert (len(split) == len(units) + 1) is apart
        assert sum(u.n_words for u in split) == sum(u.n_words for u in units)
        assert len(units[0].clauses) >= 2  # each has a clause pause: its length decides
        if apart:
            assert units[0].n_words >= FIRST_CHUNK_MIN_WORDS
            assert split[0].contour is None and split[1].contour == units[0].contour
        else:
            assert units[0].n_words < FIRST_CHUNK_MIN_WORDS


def test_a_reply_prepared_ahead_has_its_first_piece_ready_and_goes_on_as_one_voicing(joe) -> None:
    tts, profile = joe
    plan = plan_voice(Scene(channel="voice", kind="reply", text=LONG), None, own=profile)
    engine = Logged(tts)
    prepared = PreparedReply(LONG, plan, Voicing(engine))
    prepared.run()
    assert engine.rendered == ["I heard you say:"], "only the first piece is realised ahead"
    assert not prepared.matches(LONG + " Really?", plan)
    assert not prepared.matches(LONG, dataclasses.replace(plan, f0_median_hz=(plan.f0_median_hz or 100.0) * 1.1))
    assert prepared.matches(LONG, plan)
    pieces = prepared.take(timeout_s=0.0)
    assert pieces is not None and prepared.take(timeout_s=0.0) is None, "handed out once"
    first = next(pieces)
    assert len(engine.rendered) == 1 and 0.3 < len(first) / tts.rate_hz < 2.0, "played without rendering"
    rest = list(pieces)
    assert engine.rendered[1:] == [
        "The child almost hurt the small dog.",
        "Tell me more about the dog.",
        "Was it yours?",
    ]
    voiced = prepared.voicing.finish([first, *rest], LONG, plan)
    assert abs(voiced.fidelity.f0_error_st) <= 0.5 and abs(voiced.fidelity.rate_error) <= 0.05, voiced.fidelity


def test_a_preparation_that_failed_is_not_used(joe) -> None:
    tts, profile = joe
    plan = plan_voice(Scene(channel="voice", kind="reply", text=LONG), None, own=profile)

    class Broken(Logged):
        def render(self, text, plan, first=False):
            raise RuntimeError("the engine broke")

    prepared = PreparedReply(LONG, plan, Voicing(Broken(tts)))
    prepared.run()  # does not raise: the reply is rendered afresh when asked
    assert prepared.matches(LONG, plan) and prepared.take(timeout_s=0.0) is None
