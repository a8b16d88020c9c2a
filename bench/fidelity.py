"""The closed loop: how close rendered speech comes to its voice plan.

Run:  .venv/bin/python bench/fidelity.py            # 60 utterances, about 2 minutes

12 replies (statements and questions, one or two sentences) × the 5 registers, each
planned by agent/melody.py against a different heard voice (median F0 100–240 Hz, 2–4
words/s, so the same-field rule moves every plan), rendered with the Piper voice through
the realiser, and measured by the listening analyser. Goals (issue 4): median F0 within
1 semitone of plan, rate within 10 %, contour direction right in ≥ 95 %, pause ratio
within 0.05. Also reported: how many sentences missed the loop's own tolerances
(0.5 st, 5 %) on the first try and were re-realised, and the render time against a
baseline run in the same process, utterance by utterance: the same text spoken by bare
Piper (``PiperTTS.render``, the plan's length scale, no realiser, no measurement), so the
ratio says what the closed loop costs on top of the synthesiser, whatever the machine's load.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from agent.melody import plan_voice
from agent.register import REGISTERS
from agent.scene import Scene
from agent.sound import Sound
from modules.voice.speak.voicing import F0_TOLERANCE_ST, RATE_TOLERANCE, Voicing
from modules.voice.tts.piper import PiperTTS, piper_voices

REPLIES = [
    "I heard you say the child almost hurt the small dog.",
    "Tell me more about the garden you planted last spring.",
    "The river was cold this morning, and the road was long.",
    "Will you walk with me tomorrow?",
    "Your name is Anna. I will remember it.",
    "You asked why the sky is blue. I cannot answer that yet.",
    "Sunday is the best part of the week, you said.",
    "Where did the letter come from?",
    "A thin stripe runs down the middle of the road.",
    "The lamp is warm, the room is quiet, and the night is long.",
    "Nobody knew the answer. Do you?",
    "At that high level the air is pure and thin.",
]


def main() -> None:
    joe = piper_voices()["joe"]
    own = joe.profile()  # the voice the plans are anchored to, as the voice module announces it
    piper = PiperTTS(joe)
    voicing = Voicing(piper)
    piper.render("Warm up.", plan_voice(Scene(channel="voice", kind="reply", text="Warm up."), own=own))
    rows = []
    render_s = bare_s = audio_s = 0.0
    corrections = sentences = 0
    first_f0, first_rate = [], []
    for i, text in enumerate(REPLIES):
        for j, register in enumerate(REGISTERS):
            k = i * len(REGISTERS) + j
            heard = Sound(f0_median_hz=100.0 + 140.0 * ((k * 7) % 10) / 9, rate_wps=2.0 + 2.0 * ((k * 3) % 5) / 4)
            plan = plan_voice(Scene(channel="voice", kind="reply", text=text, register=register), heard, own=own)
            t0 = time.perf_counter()
            piper.render(text, plan)  # the baseline: bare Piper, the same text and length scale
            t1 = time.perf_counter()
            voiced = voicing.render(text, plan)
            t2 = time.perf_counter()
            bare_s += t1 - t0
            render_s += t2 - t1
            audio_s += len(voiced.samples) / voiced.rate_hz
            corrections += voiced.corrections
            sentences += len(voiced.sentences)
            first_f0 += [abs(r.first_f0_error_st) for r in voiced.sentences if r.first_f0_error_st is not None]
            first_rate += [abs(r.first_rate_error) for r in voiced.sentences if r.first_rate_error is not None]
            rows.append(voiced.fidelity)
    n = len(rows)
    f0 = [abs(r.f0_error_st) for r in rows]
    rate = [abs(r.rate_error) for r in rows]
    pauses = [abs(r.pause_ratio_error) for r in rows]
    print(f"{n} planned utterances ({len(REPLIES)} replies × {len(REGISTERS)} registers), Piper joe + PSOLA realiser\n")
    print(f"{'measure':26} {'goal':>10} {'met':>6} {'median':>8} {'worst':>8}")
    print(
        f"{'median F0 vs plan':26} {'≤ 1 st':>10} {np.mean([e <= 1.0 for e in f0]):6.0%} "
        f"{statistics.median(f0):6.2f}st {max(f0):6.2f}st"
    )
    print(
        f"{'rate vs plan':26} {'≤ 10 %':>10} {np.mean([e <= 0.10 for e in rate]):6.0%} "
        f"{statistics.median(rate):7.1%} {max(rate):7.1%}"
    )
    print(f"{'contour direction':26} {'≥ 95 %':>10} {np.mean([r.contour_ok for r in rows]):6.0%}")
    print(
        f"{'pause ratio vs plan':26} {'≤ 0.05':>10} {np.mean([e <= 0.05 for e in pauses]):6.0%} "
        f"{statistics.median(pauses):8.3f} {max(pauses):8.3f}"
    )
    print(
        f"\nfirst try, per sentence: median F0 {statistics.median(first_f0):.2f} st (worst {max(first_f0):.2f}), "
        f"rate {statistics.median(first_rate):.1%} (worst {max(first_rate):.1%})"
    )
    print(
        f"closed loop: {corrections} of {sentences} sentences missed {F0_TOLERANCE_ST} st or "
        f"{RATE_TOLERANCE:.0%} on the first try and were re-realised"
    )
    print(
        f"render time: closed loop {render_s:.1f} s, bare Piper {bare_s:.1f} s (same texts, same process): "
        f"ratio {render_s / bare_s:.2f}; {render_s / audio_s:.2f} s vs {bare_s / audio_s:.2f} s "
        f"per second of audio"
    )


if __name__ == "__main__":
    main()
