"""The scene as a language model's context: what the mind knows and decided, in lines.

The system message tells the model what it knows of the user (facts from the session and
from memory), the turn as the mind read it (core, mode, register, the topic it continues,
its sub-scenes), how the user sounded (measured) and its own mood. Where the rule mind has
decided what to say, the model is asked only to reword that reply, with three worked
examples: measured on SmolLM2-135M, asked to answer the user "in its own words" with the
reply as a hint it ignored the hint and rambled ("I'm sorry for your loss" to a goodbye),
while rewording with examples kept the meaning and the question ("That sounds difficult.
What is the hardest part of it?" → "That sounds really difficult. What's the hardest part
of it?") in 0.2–0.4 s. Without a decided reply the user's words are the user message.
"""

from __future__ import annotations

from agent.compress import Compressed
from agent.converse import AGENT_NAME, SessionMemory
from agent.mood import Mood
from agent.scene import Scene

SYSTEM = (
    f'You are {AGENT_NAME}, a warm voice companion. You speak to the user as "you", in one or two '
    "short spoken sentences, plain words, no lists."
)


REWORD = (
    "You reword a voice assistant's reply so it sounds natural and kind. Keep its meaning, its names and "
    "its question. Answer with the reworded reply only, at most two short sentences."
)
#: worked examples of rewording (reply → reworded), for a small model to follow.
EXAMPLES = (
    ("I see. Tell me more about the trip.", "Oh, I see. What was the trip like?"),
    ("That sounds hard. What is the hardest part of it?", "That sounds really hard. Which part weighs on you most?"),
    ("Hello, Sam. How are you today?", "Hi Sam! How are you doing today?"),
)


def known_lines(memory: SessionMemory) -> list[str]:
    """What the mind knows of the user, one fact each ("The user's name is Lena.")."""
    lines = [f"The user's name is {memory.name}."] if memory.name else []
    for (kind, relation), values in memory.facts.items():
        for value in values:
            lines.append(
                {"like": f"The user likes {value}.", "place": f"The user lives in {value}."}.get(
                    kind, f"The user's {relation} is {value}."
                )
            )
    return lines


def scene_lines(scene: Scene, compressed: Compressed, subs: list[Scene], mood: Mood) -> list[str]:
    """The turn as the mind read it, the voice as measured, the mind's mood."""
    lines = []
    if compressed.core:
        lines.append(
            f"This turn is about: {compressed.core.replace('+', ', ')} (mode {compressed.mode}, "
            f"answer in a {compressed.register} register)."
        )
    if compressed.context:
        lines.append(f"It goes on from: {compressed.context}.")
    unfolded = [f"{s.unfolding.role} {s.core.replace('+', ', ')}" for s in subs if s.unfolding is not None and s.core]
    if unfolded:
        lines.append("Its parts: " + "; ".join(unfolded) + ".")
    sound = scene.sound
    if sound is not None and (sound.rate_wps or sound.f0_median_hz):
        said = []
        if sound.rate_wps:
            said.append(f"{sound.rate_wps:.1f} words a second")
        if sound.f0_median_hz:
            said.append(f"pitch {sound.f0_median_hz:.0f} Hz")
        lines.append(f"The user's voice: {', '.join(said)}, sounding {compressed.mode}.")
    lines.append(f"Your mood: {mood.label}.")
    return lines


def messages(
    scene: Scene,
    compressed: Compressed,
    subs: list[Scene],
    memory: SessionMemory,
    mood: Mood,
    say: str | None,
) -> list[dict[str, str]]:
    """The chat messages for one reply. ``say``: the rule mind's reply, to be reworded (the
    system message: the task, what the mind knows, the scene; the examples; then ``say``);
    None: the model answers the user's words from the context alone."""
    context = [*known_lines(memory), *scene_lines(scene, compressed, subs, mood)]
    if not say:
        return [
            {"role": "system", "content": "\n".join([SYSTEM, *context])},
            {"role": "user", "content": (scene.text or "").strip()},
        ]
    out = [{"role": "system", "content": "\n".join([REWORD, *context])}]
    for reply, reworded in EXAMPLES:
        out += [{"role": "user", "content": f"Reply: {reply}"}, {"role": "assistant", "content": reworded}]
    out.append({"role": "user", "content": f"Reply: {say}"})
    return out
