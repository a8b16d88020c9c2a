"""The rule mind's replies: a conversation from what it knows, never the user's words back.

:func:`compose` answers one heard scene from what the mind knows — the session (what was
said, its topics, how each turn sounded), the user's facts (own rules, ``agent/facts.py``,
and what MemoryAnchor announces from earlier sessions), its own state (the mood field), the
time — and from the scene's unfolding: the figure it asks about, the tension it
acknowledges, the memory or Δ-code it links to. It says how the user sounded when that
stood out against their own earlier turns ("you spoke faster than before", "you sound out
of breath"). It never repeats the whole utterance back, except when asked what was said.

Acts: ``naming``, ``fact``, ``name-recall``, ``fact-recall``, ``recall``, ``topics``,
``profile``, ``time``, ``identity``, ``self``, ``voice``, ``thanks``, ``farewell``,
``greeting``, ``question``, ``statement``, ``backchannel``.

The wording is deterministic: where it varies (openers), it varies with the turn's number.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime

from agent.compress import Compressed
from agent.facts import Fact, asked_kinds, extract_facts
from agent.mood import Mood
from agent.scene import Scene
from agent.sound import Sound
from agent.words import tokens

MAX_ECHO_WORDS = 24
AGENT_NAME = "scenevoice"

_RECALL = re.compile(r"\bwhat did i (?:just )?say\b|\brepeat (?:that|what i said)\b|\bwhat was i saying\b", re.I)
_TOPICS = re.compile(
    r"\bwhat (?:did|have) we (?:talk|talked|speak|spoken) about\b|\bwhat were we (?:talking|speaking) about\b", re.I
)
_PROFILE = re.compile(r"\bwhat do you (?:know|remember) about me\b|\bwhat have i told you\b", re.I)
_TIME = re.compile(r"\bwhat time is it\b|\bwhat's the time\b|\bwhat is the time\b|\bthe time,? please\b", re.I)
_DATE = re.compile(r"\bwhat (?:day|date) is (?:it|today)\b|\bwhat's the date\b|\btoday's date\b", re.I)
_IDENTITY = re.compile(r"\bwho are you\b|\bwhat are you\b|\bwhat(?:'s| is) your name\b", re.I)
_HOW_ARE_YOU = re.compile(r"\bhow are you\b|\bhow do you feel\b|\bhow are you feeling\b", re.I)
_HOW_DO_I_SOUND = re.compile(r"\bhow do i sound\b|\bhow does my voice sound\b|\bdo i sound\b", re.I)
_THANKS = re.compile(r"^\s*(?:thanks|thank you|cheers)\b", re.I)
_FAREWELL = re.compile(r"\b(?:good ?bye|bye|see you|good night)\b", re.I)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|good (?:morning|afternoon|evening))\b", re.I)
_QUESTION_START = re.compile(
    r"^\s*(?:who|what|when|where|why|how|which|is|are|do|does|did|can|could|will|would|should)\b", re.I
)
_DETERMINERS = {
    "the", "a", "an", "my", "your", "his", "her", "our", "their", "its", "this", "that",
    "these", "those", "some", "any", "no", "every", "each", "another",
}  # fmt: skip
_NOUN_ENDINGS = ("tion", "sion", "ness", "ment", "ity", "ship", "hood", "ism", "ance", "ence")


@dataclass
class SessionMemory:
    """What the mind knows of the user: this session, and facts from earlier ones.

    Attributes:
        name: the user's name, if given (now or in an earlier session).
        facts: (kind, relation) → values, in the order learnt (``("like", "")`` → tea, …).
        heard: this session's utterances, in order.
        cores: this session's cores, in order.
        topics: what this session was about, as the user could be told it ("your boss",
            "green tea"), in order.
        sounds: how each turn of this session sounded (its measured voice), in order.
        voice_remarks: turn numbers at which the mind remarked on the voice.
        asked: the follow-up questions the mind asked (none is asked twice).
        carries: what the last reply carried besides an opener and a question, that the
            scene machinery found and no rewording may lose: ``voice`` (how the user
            sounded), ``code`` (a Δ-code), ``memory`` (a remembered scene), ``topic``.
    """

    name: str | None = None
    facts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)
    cores: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    sounds: list[Sound] = field(default_factory=list)
    voice_remarks: list[int] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    carries: list[str] = field(default_factory=list)

    def learn(self, fact: Fact) -> bool:
        """Keep a fact; True when it is new."""
        if fact.kind == "name":
            new = self.name != fact.value
            self.name = fact.value
            return new
        values = self.facts.setdefault((fact.kind, fact.relation), [])
        if fact.value.lower() in (v.lower() for v in values):
            return False
        values.append(fact.value)
        return True


def clip_words(text: str, n: int = MAX_ECHO_WORDS) -> str:
    """``text`` cut to ``n`` words (with " …" when cut), without final punctuation."""
    words = text.split()
    clipped = " ".join(words[:n]) + (" …" if len(words) > n else "")
    return clipped.rstrip(" .,;:!?")


def join_words(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def noun_phrase(lemma: str, text: str) -> str | None:
    """How to name ``lemma`` back to the user, when it is said as a noun in ``text``: a name
    as written ("Lisbon"), a thing of theirs with "your" ("my boss" → "your boss"), else with
    "the" ("the garden"); None when it is not said as a noun.

    A noun is a word written with a capital inside a sentence (a name), or one a dictionary
    lists first as a noun (lemminflect; English), or lists as a noun at all and follows a
    determiner, directly or past one word that is not a noun ("the small dog", not "the
    garden smells"). Rules, not a tagger: they err toward
    "not a noun", which asks a question without naming anything."""
    from lemminflect import getAllLemmas

    from agent.lexicon import lemma as lemma_of

    words = tokens(text)
    lower = [w.lower() for w in words]
    hits = [i for i, w in enumerate(lower) if w == lemma or lemma_of(w) == lemma]
    if not hits:
        return None
    i = hits[0]
    said = words[i]
    if said[:1].isupper() and i > 0 and not re.search(rf"[.!?]\s+{re.escape(said)}\b", text) and said != "I":
        return said
    kinds = list(getAllLemmas(lower[i]))
    if "NOUN" not in kinds:
        return None
    if i + 1 < len(lower) and list(getAllLemmas(lower[i + 1]))[:1] == ["NOUN"] and kinds[0] != "NOUN":
        return None  # a modifier of the noun after it ("a long day")

    def noun_first(word: str) -> bool:
        return list(getAllLemmas(word))[:1] == ["NOUN"]

    # "the garden", "the small dog" — but not "the garden smells": a noun between makes it a verb
    after_determiner = i >= 1 and lower[i - 1] in _DETERMINERS
    after_determiner |= i >= 2 and lower[i - 2] in _DETERMINERS and not noun_first(lower[i - 1])
    if not (kinds[0] == "NOUN" or after_determiner):
        return None
    if i >= 1 and lower[i - 1] not in _DETERMINERS and noun_first(lower[i - 1]) and "VERB" in kinds:
        return None  # the verb after its subject ("the garden smells")
    owner = next((lower[j] for j in (i - 1, i - 2) if j >= 0 and lower[j] in ("my", "our")), None)
    return f"{'your' if owner else 'the'} {lower[i] if lower[i].endswith('s') and lower[i] != lemma else lemma}"


def voice_remark(sound: Sound | None, earlier: list[Sound]) -> str | None:
    """A sentence on how the turn sounded, when it stood out against the speaker's earlier
    turns (their medians; at least one earlier turn with the measure): faster or slower
    (rate ±25 %), louder or quieter (±6 dB), out of breath (fast, breathy: harmonics-to-noise
    under 7 dB, many pauses). None when nothing stood out."""
    if sound is None or not earlier:
        return None

    def before(name: str) -> float | None:
        values = [getattr(s, name) for s in earlier if getattr(s, name) is not None]
        return statistics.median(values) if values else None

    rate, rate0 = sound.rate_wps, before("rate_wps")
    level, level0 = sound.energy_db, before("energy_db")
    breathy = sound.hnr_db is not None and sound.hnr_db < 7.0 and (sound.pause_ratio or 0) > 0.25
    if breathy and rate is not None and rate0 is not None and rate > rate0 * 1.1:
        return "You sound out of breath."
    if rate is not None and rate0 is not None and rate0 > 0:
        if rate >= rate0 * 1.25:
            return "You spoke faster than before."
        if rate <= rate0 * 0.75:
            return "You spoke more slowly than before."
    if level is not None and level0 is not None:
        if level >= level0 + 6:
            return "You sound louder than before."
        if level <= level0 - 6:
            return "You sound quieter than before."
    return None


def describe_voice(sound: Sound | None, mode: str | None) -> str:
    """How a voice sounds, in a sentence: its mode, rate and pitch as measured."""
    if sound is None or (sound.rate_wps is None and sound.f0_median_hz is None):
        return "I could not measure your voice on that one."
    parts = []
    if sound.rate_wps is not None:
        parts.append(f"about {sound.rate_wps:.1f} words a second")
    if sound.f0_median_hz is not None:
        parts.append(f"a pitch around {sound.f0_median_hz:.0f} hertz")
    how = mode if mode and mode != "neutral" else "even"
    return f"You sound {how}: {join_words(parts)}."


_OPENERS = {
    "tense": ["That sounds hard.", "I hear the strain in that.", "That sounds difficult."],
    "low": ["That sounds heavy.", "I am sorry to hear that.", "That sounds like a lot."],
    "excited": ["That sounds exciting!", "Oh, that is something!", "How lively!"],
    "bright": ["That sounds lovely.", "How nice.", "That is good to hear."],
    "calm": ["I see.", "Mm, I follow.", "Right."],
}


_ABOUT_IT = {
    "emotional": ["How does that make you feel?", "What do you feel about it now?"],
    "bodily": ["Where do you feel it?", "How does your body take it?"],
    "poetic": ["What does it look like to you?", "What picture does it leave you with?"],
    "archetypal": ["What does it stand for, for you?", "Where does it lead, do you think?"],
    "logical": ["Tell me more: what happened?", "What happened next?"],
}
_ABOUT = {
    "emotional": ["How do you feel about {x}?", "What {does} {x} mean to you?"],
    "bodily": ["Where do you feel {x}, in your body?", "How {does} {x} sit with you?"],
    "poetic": ["What {does} {x} look like to you?", "What picture {does} {x} leave you with?"],
    "archetypal": ["What {does} {x} stand for, for you?", "Where {does} {x} lead, do you think?"],
    "logical": ["Tell me more about {x}.", "What else about {x}?"],
}


def _follow_up(things: list[str], register: str, tension: bool, valence: float, asked: list[str]) -> str:
    """A question in the register the scene unfolds in, about the first of ``things`` (noun
    phrases: the figure first) it has not asked about before in the session, else about
    the scene as a whole; about the hardest part when the scene holds an unpleasant tension."""
    options = ["What is the hardest part of it?"] if tension and valence < -0.2 else []
    for thing in things:
        plural = thing[:1].islower() and thing.endswith("s") and not thing.endswith("ss")
        options += [f.format(x=thing, does="do" if plural else "does") for f in _ABOUT.get(register, _ABOUT["logical"])]
    options += _ABOUT_IT.get(register, _ABOUT_IT["logical"])
    return next((q for q in options if q not in asked), "What else comes to mind?")


def _fact_reply(facts: list[Fact], new: list[bool]) -> str:
    said = []
    for f, is_new in zip(facts, new):
        if f.kind == "name":
            said.append(f"Nice to meet you, {f.value}." if is_new else f"Yes, {f.value}, I know.")
        elif f.kind == "like":
            said.append(f"You like {f.value}; I will remember that." if is_new else f"Yes, you like {f.value}.")
        elif f.kind == "place":
            said.append(f"{f.value}, I will remember that." if is_new else f"Yes, {f.value}.")
        else:
            said.append(f"{f.value}, your {f.relation}; I will remember." if is_new else f"Yes, your {f.relation}.")
    last = facts[-1]
    ask = {
        "name": "What would you like to talk about?",
        "like": f"What do you like about {last.value}?",
        "place": f"What is it like in {last.value}?",
        "person": f"What is {last.value} like?",
    }[last.kind]
    return " ".join([*said, ask])


def _recall_fact(kind: str, relation: str, memory: SessionMemory) -> str:
    if kind == "name":
        return f"Your name is {memory.name}." if memory.name else "You have not told me your name yet."
    if kind == "person":
        found = [(r, v) for (k, r), vs in memory.facts.items() if k == "person" and (not relation or r == relation)
                 for v in vs]  # fmt: skip
        if not found:
            return f"You have not told me about your {relation or 'people'} yet."
        return " ".join(f"Your {r} is {v}." for r, v in found[-3:])
    values = memory.facts.get((kind, ""), [])
    if not values:
        return {"place": "You have not told me where you live yet.", "like": "You have not told me what you like yet."}[
            kind
        ]
    return {"place": f"You live in {values[-1]}.", "like": f"You like {join_words(values[-4:])}."}[kind]


def _profile(memory: SessionMemory) -> str:
    said = []
    if memory.name:
        said.append(f"your name is {memory.name}")
    for (kind, relation), values in memory.facts.items():
        if kind == "like":
            said.append(f"you like {join_words(values)}")
        elif kind == "place":
            said.append(f"you live in {values[-1]}")
        else:
            said.append(f"your {relation} is {values[-1]}")
    if not said:
        return "Not much yet. Tell me about yourself: what is your name?"
    return f"I know that {join_words(said)}."


def compose(
    scene: Scene,
    compressed: Compressed,
    subs: list[Scene],
    memory: SessionMemory,
    mood: Mood,
    now: datetime,
) -> tuple[str, str]:
    """The reply to ``scene`` and its act, updating ``memory`` (the heard text, the core,
    the figure, the sound, the facts).

    Args:
        scene: the heard turn (or fused scene): its text and sound.
        compressed: its compression.
        subs: its sub-scenes (:func:`agent.unfold.unfold`).
        memory: what the mind knows; changed in place.
        mood: the field after this turn.
        now: the local time, for "what time is it".
    """
    text = (scene.text or "").strip()
    memory.carries = []
    previous = memory.heard[-1] if memory.heard else None
    earlier_sounds = list(memory.sounds)
    turn_no = len(memory.heard)
    memory.heard.append(text)
    if compressed.core:
        memory.cores.append(compressed.core)
    if scene.sound is not None:
        memory.sounds.append(scene.sound)
    role: dict[str, Scene] = {}
    for sub in subs:  # the first of each role: what the core found before what the field did
        if sub.unfolding is not None:
            role.setdefault(sub.unfolding.role, sub)
    figure_lemma = role["figure"].core if "figure" in role else None
    # the things to ask about: the figure, then the other core lemmas, said as nouns
    phrases = (noun_phrase(lemma, text) for lemma in [figure_lemma, *compressed.lemmas] if lemma)
    things = list(dict.fromkeys(p for p in phrases if p))
    text_reply, act = _compose(
        text, previous, earlier_sounds, turn_no, scene, compressed, role, things, memory, mood, now
    )
    if act in ("statement", "question") and things:
        memory.topics.append(things[0])
    return text_reply, act


def _compose(
    text: str,
    previous: str | None,
    earlier_sounds: list[Sound],
    turn_no: int,
    scene: Scene,
    compressed: Compressed,
    role: dict[str, Scene],
    things: list[str],
    memory: SessionMemory,
    mood: Mood,
    now: datetime,
) -> tuple[str, str]:
    figure_lemma = role["figure"].core if "figure" in role else None

    facts = extract_facts(text, None)
    if facts:
        new = [memory.learn(f) for f in facts]
        memory.topics.extend(f.value for f in facts if f.kind in ("like", "place"))
        return _fact_reply(facts, new), "naming" if any(f.kind == "name" for f in facts) else "fact"
    asked = asked_kinds(text)
    if asked:
        return " ".join(_recall_fact(k, r, memory) for k, r in asked), "name-recall" if asked[0][0] == "name" else (
            "fact-recall"
        )
    if _RECALL.search(text):
        if previous:
            return f"You said: {clip_words(previous)}.", "recall"
        return "You have not said anything before this.", "recall"
    if _TOPICS.search(text):
        topics = list(dict.fromkeys(memory.topics))
        if not topics:
            return "We have only just begun.", "topics"
        return f"We talked about {join_words(topics[-4:])}.", "topics"
    if _PROFILE.search(text):
        return _profile(memory), "profile"
    if _TIME.search(text):
        return f"It is {now:%H:%M}.", "time"
    if _DATE.search(text):
        return f"Today is {now:%A}, {now.day} {now:%B %Y}.", "time"
    if _IDENTITY.search(text):
        return f"I am {AGENT_NAME}: I listen to what you say and to how you say it.", "identity"
    if _HOW_DO_I_SOUND.search(text):
        return describe_voice(scene.sound, compressed.mode), "voice"
    if _HOW_ARE_YOU.search(text):
        state = {
            "tense": "A little tense, after what you told me.",
            "low": "A little low, after what you told me.",
            "excited": "Lively, thank you!",
            "bright": "Bright, thank you.",
            "calm": "Calm, thank you.",
        }[mood.label]
        return f"{state} And how are you?", "self"
    if _THANKS.search(text):
        return "You are welcome.", "thanks"
    if _FAREWELL.search(text):
        who = f", {memory.name}" if memory.name else ""
        return f"Goodbye{who}. I will remember what you told me.", "farewell"
    if _GREETING.search(text) and len(tokens(text)) <= 6:
        who = f", {memory.name}" if memory.name else ""
        again = " Good to hear you again." if memory.name and turn_no == 0 else ""
        return f"Hello{who}.{again} How are you today?", "greeting"

    register = role["figure"].register if "figure" in role and role["figure"].register else compressed.register
    tension = any(s.unfolding and s.unfolding.role == "tension" and s.unfolding.via == "core" for s in role.values())
    if text.endswith("?") or _QUESTION_START.search(text):
        if things:
            reply = f"I do not know about {things[0]} yet. What do you think?"
        else:
            reply = "I do not know that yet. What do you think?"
        if compressed.context:
            reply = f"You spoke about {compressed.context} before. {reply}"
        return reply, "question"
    if not compressed.core:
        return ("Go on." if turn_no % 2 else "Mm-hm, I am listening."), "backchannel"

    feeling = mood.label
    if feeling in ("bright", "excited") and compressed.valence < 0.3:
        feeling = "calm"  # a glad mood does not make a plain remark lovely
    if feeling in ("calm", "bright", "excited") and compressed.valence <= -0.4:
        feeling = "low"  # the turn itself is heavy, whatever the mood
    elif feeling == "calm" and compressed.valence >= 0.5:
        feeling = "bright"
    parts = [_OPENERS[feeling][turn_no % 3]]
    remark = voice_remark(scene.sound, earlier_sounds)
    if remark and not any(turn_no - t < 3 for t in memory.voice_remarks):
        memory.voice_remarks.append(turn_no)
        memory.carries.append("voice")
        parts.append(remark)
    if "archetype" in role and role["archetype"].delta:
        memory.carries.append("code")
        lemmas = role["archetype"].lexemes
        parts.append(f"{join_words(lemmas).capitalize()} again: they keep coming together for you.")
    elif "memory" in role and role["memory"].context:
        memory.carries.append("memory")
        when = role["memory"].context
        day = "earlier today" if when == now.strftime("%Y-%m-%d") else "before"
        shared = [w for w in (role["memory"].core or "").split("+") if w in compressed.lemmas] or (
            role["memory"].core or ""
        ).split("+")[:1]
        parts.append(
            f"{join_words(shared[:2]).capitalize()}: you spoke of {'it' if len(shared) == 1 else 'them'} {day}."
        )
    elif compressed.context and compressed.context != figure_lemma:
        memory.carries.append("topic")
        parts.append(f"Back to {compressed.context}.")
    question = _follow_up(things, register, tension, compressed.valence, memory.asked)
    memory.asked.append(question)
    parts.append(question)
    return " ".join(parts), "statement"
