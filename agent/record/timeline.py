"""A recorded session on one timeline: what the exports (VTT, SRT, TextGrid, JAMS) share.

Which clock: the timeline is the clock of the session's first recorded stream, so a
session with one stream (the usual case, and every ``analyze --out`` folder) keeps its
heard scenes' own times, and its cues line up with ``audio/mic-000.wav``. A stream that
started again (a new ``listen.*`` request, a new clock from 0) is moved onto it by the
difference of the streams' starts on the session clock; each stream's start is the
``t_s`` of its first ``recorded.mic`` line minus that file's ``t_start`` (the file was
announced as it began). A heard scene of no recorded stream keeps its own times.

The agent's replies (``spoken`` scenes) carry Unix times in their hops, not stream
times: a reply played live starts at its ``*.audio.first`` hop (when its first sound left
for the speaker), or else ``duration`` before its ``*.played`` hop; minus
``session.json``'s ``started_unix_s`` that is session time, and minus the first stream's
start it is on the timeline. A reply written to a file (never played), or in a folder
without ``started_unix_s``, cannot be placed: it is left out and a note says so.

Every time here is seconds on the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.record.reader import Recording
from agent.scene import Scene
from agent.sound import Phrase, Sound

#: the heard kinds that carry words.
SPEECH_KINDS = ("turn", "utterance")
#: the speaker label of the agent's own voice.
AGENT = "agent"
#: the speaker label of heard speech whose speaker is not named (the agent's counterpart).
USER = "user"
#: shortest span kept, seconds (a cue must end after it starts).
MIN_SPAN_S = 0.001


@dataclass(frozen=True)
class Span:
    """One stretch of the timeline.

    Attributes:
        t_start_s, t_end_s: where it lies on the timeline, seconds (``t_end_s > t_start_s``).
        kind: ``turn``/``utterance`` (heard speech), ``phrase`` (a part of one), ``sound``
            (a sound without words) or ``spoken`` (the agent's reply).
        text: its words; for a sound, a description (``sound: loud low rough``).
        speaker: who spoke: the scene's ``speaker``, :data:`AGENT` for the agent; None
            for a sound, or speech whose speaker was not named (:meth:`who` names it).
        scene: the scene it comes from.
        sound: its measures (the phrase's for a phrase); None when not measured.
    """

    t_start_s: float
    t_end_s: float
    kind: str
    text: str
    speaker: str | None
    scene: Scene
    sound: Sound | Phrase | None = None

    @property
    def duration_s(self) -> float:
        return self.t_end_s - self.t_start_s

    @property
    def who(self) -> str:
        """The speaker's label for a tier or a segment: :data:`USER` when not named."""
        return self.speaker or USER


@dataclass
class Timeline:
    """A recording's content placed on one timeline (see the module docstring).

    Attributes:
        recording: what was read.
        offsets_s: per stream id, seconds added to that stream's times.
        speech: each heard ``turn``/``utterance`` with words, whole.
        phrases: the phrases of heard speech (``Sound.phrases``), or the whole utterance
            where it has none: the cues of timed text.
        sounds: each heard ``sound`` scene.
        replies: each ``spoken`` scene that could be placed.
        notes: one sentence per thing left out or moved (besides the reading problems).
        duration_s: from 0 to the end of the last recorded audio or span, seconds.
    """

    recording: Recording
    offsets_s: dict[str, float] = field(default_factory=dict)
    speech: list[Span] = field(default_factory=list)
    phrases: list[Span] = field(default_factory=list)
    sounds: list[Span] = field(default_factory=list)
    replies: list[Span] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def cues(self) -> list[Span]:
        """The timed text: phrases, sounds and replies, by start time."""
        return sorted([*self.phrases, *self.sounds, *self.replies], key=lambda s: (s.t_start_s, s.t_end_s))

    def offset_of(self, scene: Scene) -> float:
        """Seconds to add to a heard ``scene``'s times to put it on the timeline."""
        stream = self.recording.stream_of(scene)
        return self.offsets_s.get(stream, 0.0) if stream is not None else 0.0


def stream_starts_s(recording: Recording) -> dict[str, float]:
    """Each recorded stream's clock zero on the session clock, seconds (see the module
    docstring); a stream without a ``recorded.mic`` line falls back on its ``voice``
    files, and one with neither is left out."""
    starts = {}
    for stream in recording.streams():
        for track in ("mic", "voice"):
            at_s = recording.recorded_at_s(stream, track)
            first = next((f for f in recording.files if f.stream == stream and f.track == track), None)
            if at_s is not None and first is not None:
                starts[stream] = at_s - first.t_start
                break
    return starts


def describe_sound(scene: Scene) -> str:
    """A sound without words in a few words: ``sound: loud low rough`` from the scene's
    lexemes (the analyser's descriptors), or just ``sound``."""
    words = [w for w in scene.lexemes if w != "sound"]
    return f"sound: {' '.join(words)}" if words else "sound"


def _reply_start_unix_s(scene: Scene) -> float | None:
    """When a spoken reply began to sound (Unix seconds), from its hops; None if unknown."""
    duration_s = (scene.t_end or 0.0) - (scene.t_start or 0.0)
    first = next((h.t_unix_s for h in scene.hops if h.stage.endswith(".audio.first")), None)
    if first is not None:
        return first
    played = next((h.t_unix_s for h in reversed(scene.hops) if h.stage.endswith(".played")), None)
    return played - duration_s if played is not None else None


def build_timeline(recording: Recording) -> Timeline:
    """Place ``recording``'s heard speech, phrases, sounds and the agent's replies on one
    timeline (see the module docstring). Nothing raises: what cannot be placed is noted."""
    timeline = Timeline(recording)
    starts = stream_starts_s(recording)
    reference_s = next(iter(starts.values()), 0.0)  # the first stream's start (streams in order)
    timeline.offsets_s = {stream: start_s - reference_s for stream, start_s in starts.items()}
    unplaced_streams = [s for s in recording.streams() if s not in starts]
    if unplaced_streams:
        timeline.notes.append(
            f"{len(unplaced_streams)} stream(s) have files but no recorded.* line to place them by: "
            "kept on their own clock"
        )
    orphans = 0
    for scene in recording.heard():
        if scene.t_start is None or scene.t_end is None:
            continue
        if recording.files and recording.stream_of(scene) is None:
            orphans += 1
        offset_s = timeline.offset_of(scene)
        t_start_s, t_end_s = scene.t_start + offset_s, scene.t_end + offset_s
        if scene.kind in SPEECH_KINDS and scene.text and scene.text.strip():
            whole = Span(t_start_s, t_end_s, scene.kind, scene.text.strip(), scene.speaker, scene, scene.sound)
            timeline.speech.append(whole)
            timeline.phrases.extend(_phrases(whole) or [whole])
        elif scene.kind == "sound":
            timeline.sounds.append(Span(t_start_s, t_end_s, "sound", describe_sound(scene), None, scene, scene.sound))
    if orphans:
        timeline.notes.append(f"{orphans} heard scene(s) belong to no recorded stream: kept on their own clock")
    _place_replies(timeline, reference_s)
    ends = [s.t_end_s for s in [*timeline.speech, *timeline.phrases, *timeline.sounds, *timeline.replies]]
    ends += [f.t_end + timeline.offsets_s.get(f.stream, 0.0) for f in recording.files]
    ends += [(s.t_end or 0.0) + timeline.offset_of(s) for s in recording.heard()]
    timeline.duration_s = round(max(ends, default=0.0), 3)
    return timeline


def _phrases(whole: Span) -> list[Span]:
    """The phrases of a heard utterance as spans (phrase times are from its start),
    clipped to it: a phrase's word times come from the recogniser and may begin before
    the stretch the voice detector heard (``-0.9 s`` in jfk.flac), where the audio holds
    the words before it. Empty phrases are left out."""
    sound = whole.scene.sound
    spans = []
    for phrase in (sound.phrases if sound is not None else None) or []:
        t_start_s = min(max(whole.t_start_s + phrase.t_start, whole.t_start_s), whole.t_end_s)
        t_end_s = min(max(whole.t_start_s + phrase.t_end, whole.t_start_s), whole.t_end_s)
        if phrase.text.strip() and t_end_s - t_start_s >= MIN_SPAN_S:
            spans.append(Span(t_start_s, t_end_s, "phrase", phrase.text.strip(), whole.speaker, whole.scene, phrase))
    return spans


def _place_replies(timeline: Timeline, reference_s: float) -> None:
    started_unix_s = timeline.recording.session.get("started_unix_s")
    spoken = [s for _, s in timeline.recording.scenes if s.kind == "spoken" and s.text and s.text.strip()]
    written = unknown = 0
    for scene in spoken:
        begun_unix_s = _reply_start_unix_s(scene)
        if scene.result is not None and scene.result.path is not None and scene.result.device is None:
            written += 1
        elif begun_unix_s is None or not isinstance(started_unix_s, int | float):
            unknown += 1
        else:
            t_start_s = round(begun_unix_s - started_unix_s - reference_s, 3)
            t_end_s = round(t_start_s + max((scene.t_end or 0.0) - (scene.t_start or 0.0), MIN_SPAN_S), 3)
            timeline.replies.append(Span(t_start_s, t_end_s, "spoken", scene.text or "", AGENT, scene, scene.sound))
    if written:
        timeline.notes.append(f"{written} of the agent's replies were written to files, not played: not timed")
    if unknown:
        why = "session.json has no started_unix_s" if not isinstance(started_unix_s, int | float) else "no play times"
        timeline.notes.append(f"{unknown} of the agent's replies cannot be placed ({why}): left out")
    early = [r for r in timeline.replies if r.t_start_s < 0]
    if early:
        timeline.replies = [r for r in timeline.replies if r.t_start_s >= 0]
        timeline.notes.append(f"{len(early)} of the agent's replies began before the recording: left out")
