"""The listening analyser: timbre and prosody measured from audio, one file per family.

The same analyser reads the user's voice and measures the agent's own rendered voice, so
a voice plan and its result compare field by field (``agent.sound.Sound``). Samples are
mono float32 of shape (n,) at ``sr_hz``; tracks have one frame every ``HOP_S`` seconds,
centred at ``k * HOP_S``. Imports run one way, each file from those above it:

- :mod:`.frames`: the time grid (``HOP_S``), framing, frame masks from seconds, trends;
- :mod:`.level`: the level track (dBFS), its summary, the audible frames;
- :mod:`.pitch`: the F0 track (Praat's tracker, adaptive floor), contour, summary, HNR;
- :mod:`.spectrum`: power spectra, brightness, loudness, the timbre profile;
- :mod:`.tracks`: :class:`Tracks`, every track of a recording, measured once;
- :mod:`.rhythm`: pauses, speaking rate, phrases;
- :mod:`.summary`: a stretch's tracks into one ``Sound`` (:func:`summarise`, :func:`analyse`);
- :mod:`.nonspeech`: sounds without words (onset rate, roughness).

The function ``rhythm.rhythm`` is not re-exported here: the name ``rhythm`` on this
package is its file.
"""

from .frames import HOP_S, segments_mask
from .level import activity_mask, level_track_db
from .nonspeech import analyse_non_speech
from .pitch import PitchTrack, pitch_track_hz
from .rhythm import pauses_s, rhythm_from_text
from .summary import analyse, summarise
from .tracks import Tracks, measure

__all__ = [
    "HOP_S",
    "PitchTrack",
    "Tracks",
    "activity_mask",
    "analyse",
    "analyse_non_speech",
    "level_track_db",
    "measure",
    "pauses_s",
    "pitch_track_hz",
    "rhythm_from_text",
    "segments_mask",
    "summarise",
]
