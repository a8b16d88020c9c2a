"""Facts about the user from heard speech, by rules: name, likes, places, people.

A fact is (subject, kind, relation, value): ``("user", "name", "", "Anna")``,
``("user", "person", "sister", "Maria")``. Questions ("Do I like tea?") state nothing and
are skipped; so is negation ("I don't like…" does not match "I like").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: fact kinds, and a sentence form of each (for embedding and for people to read).
KINDS = ("name", "like", "place", "person")

RELATIONS = (
    "sister brother mother mom mum father dad wife husband son daughter friend partner boss "
    "girlfriend boyfriend grandmother grandma grandfather grandpa aunt uncle cousin colleague "
    "neighbour neighbor teacher doctor dog cat"
).split()

#: words that end a value ("I like tea and cake" → "tea").
_STOP_VALUE = {"and", "but", "because", "so", "when", "if", "though", "although", "which", "who", "very", "too"}
#: words that are never a name ("call me later", "I'm called back").
_NOT_NAMES = {"back", "later", "now", "again", "tomorrow", "soon", "when", "if", "please", "maybe", "the", "a", "an"}
_MAX_VALUE_WORDS = 4

_SENTENCES = re.compile(r"[^.!?]+[.!?]?")
_WORD = r"([A-Za-z][\w'\-]*)"
_NAME = [
    re.compile(rf"\bmy name is {_WORD}", re.I),
    re.compile(rf"\bmy name's {_WORD}", re.I),
    re.compile(rf"\bi(?:'m| am) called {_WORD}", re.I),
    re.compile(rf"\bcall me {_WORD}", re.I),
]
_LIKE = re.compile(r"\bi (?:really |also |do )?(?:like|love|enjoy|adore) (.+)", re.I)
_PLACE = re.compile(r"\bi (?:live in|(?:'m|am|come) from|grew up in) (.+)", re.I)
_PERSON = re.compile(
    rf"\bmy ({'|'.join(RELATIONS)})(?:'s name is| is called| is named| named| called| is|,)? {_WORD}", re.I
)


@dataclass(frozen=True)
class Fact:
    """One fact stated in speech.

    Attributes:
        subject: whose fact (the scene's speaker, or ``user``).
        kind: one of :data:`KINDS`.
        relation: for ``person``: who they are to the subject (``sister``); else ``""``.
        value: what was said (``Anna``, ``green tea``, ``Lisbon``).
    """

    subject: str
    kind: str
    relation: str
    value: str

    @property
    def key(self) -> str:
        """The value compared without case: "Green tea" confirms "green tea"."""
        return " ".join(self.value.lower().split())


def sentence(kind: str, relation: str, value: str) -> str:
    """The fact as the user would say it ("my name is Anna"); embedded for recall."""
    if kind == "name":
        return f"my name is {value}"
    if kind == "like":
        return f"I like {value}"
    if kind == "place":
        return f"I live in {value}"
    return f"my {relation} is {value}"


def _value(rest: str) -> str | None:
    words: list[str] = []
    for raw in rest.split():
        word = raw.strip(',;:"()')
        if not word or word.lower() in _STOP_VALUE:
            break
        words.append(word)
        if raw.endswith((",", ";", ":")) or len(words) == _MAX_VALUE_WORDS:
            break
    if words and words[0].lower() == "to" and len(words) > 1:  # "I like to swim" → "swim"
        words = words[1:]
    return " ".join(words) or None


def _name(word: str) -> str | None:
    word = word.strip("'-")
    if not word or word.lower() in _NOT_NAMES or not word[0].isalpha():
        return None
    return word[0].upper() + word[1:]


def extract_facts(text: str | None, subject: str | None) -> list[Fact]:
    """The facts ``text`` states about ``subject`` (None → ``user``), in order, without repeats.

    Args:
        text: what was heard; None or empty gives no facts.
        subject: the scene's speaker.
    """
    who = subject or "user"
    found: dict[tuple[str, str, str], Fact] = {}
    for match in _SENTENCES.finditer(text or ""):
        said = match.group(0).strip()
        if not said or said.endswith("?"):
            continue
        body = said.rstrip(".!")
        for pattern in _NAME:
            m = pattern.search(body)
            if m and (name := _name(m.group(1))):
                found.setdefault(("name", "", name.lower()), Fact(who, "name", "", name))
                break
        if (m := _LIKE.search(body)) and (value := _value(m.group(1))):
            found.setdefault(("like", "", value.lower()), Fact(who, "like", "", value))
        if (m := _PLACE.search(body)) and (value := _value(m.group(1))):
            found.setdefault(("place", "", value.lower()), Fact(who, "place", "", value))
        for m in _PERSON.finditer(body):
            relation, name = m.group(1).lower(), _name(m.group(2))
            # a person's name is written with a capital (Whisper writes names so).
            if name and m.group(2)[0].isupper():
                found.setdefault(("person", relation, name.lower()), Fact(who, "person", relation, name))
    return list(found.values())


#: questions that ask for a kind of fact: (pattern, kind, relation group or None).
_QUESTIONS = [
    (re.compile(r"\b(?:what(?:'s| is) my name|who am i|do you (?:know|remember) my name|my name\?)", re.I), "name"),
    (re.compile(r"\b(?:where do i (?:live|come from)|where am i from|where i live)", re.I), "place"),
    (re.compile(r"\b(?:what do i (?:like|love|enjoy)|what i (?:like|love))", re.I), "like"),
    (re.compile(rf"\b(?:who is|who's|what is|what's) my ({'|'.join(RELATIONS)})", re.I), "person"),
]


def asked_kinds(text: str | None) -> list[tuple[str, str]]:
    """The (kind, relation) pairs a question in ``text`` asks for; relation ``""`` = any.
    "What is my name?" → ``[("name", "")]``; "Who is my sister?" → ``[("person", "sister")]``."""
    asked: list[tuple[str, str]] = []
    for pattern, kind in _QUESTIONS:
        m = pattern.search(text or "")
        if m:
            asked.append((kind, m.group(1).lower() if kind == "person" else ""))
    return asked
