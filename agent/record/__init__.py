"""Recorded acoustic scenes: one folder per session, readable while it is being written.

``run.py record DIR`` (and ``talk``/``serve --record DIR``, ``analyze FILE... --out DIR``)
writes a *session folder* ``DIR/<YYYYMMDD-HHMMSS>`` (UTC; ``-2``, ``-3``… when taken)::

    session.json    what was recording: {"format": "scenevoice-recording", "version": 1,
                    "command", "started" (ISO 8601 UTC), "started_unix_s", "config" (the
                    merged config), "versions" {package: version}, "devices" {"input",
                    "output"} (null until known), "record" (the [record] options)};
                    replaced whole (atomically) when something in it becomes known.
    scenes.jsonl    every scene that crossed the bus, one JSON object a line, written and
                    flushed as it crossed: {"t_s": seconds since "started" on the
                    session's monotonic clock, "scene": <the scene's JSON>}.
    audio/mic-000.wav, mic-001.wav…     what the agent heard (its own echo cancelled)
    audio/voice-000.wav, voice-001.wav… what the agent played (silence between replies)
                    16 kHz mono 16-bit WAV, flushed (data and header) at least every
                    ``flush_s``, a new file every ``rotate_s``.

Each audio file is announced on the bus — and so in ``scenes.jsonl`` — by a scene of kind
``recorded.mic`` or ``recorded.voice`` (channel ``voice``): ``result.path`` is the file,
relative to the session folder; ``t_start`` is the time of its first sample on the clock
of the stream it belongs to; ``parents`` is the request that opened that stream (the
``listen.live`` or ``listen.file`` scene). A heard scene (``turn``, ``utterance``,
``sound``, ``silence``) has the same request among its parents and its ``t_start``/
``t_end`` on that same clock, so its audio is ``file[(t_start - file.t_start) * 16000 :]``
of the file that covers it. A stream that starts again (the sound server came back) has a
new request, a new clock from 0 and new files.

A folder killed at any moment (SIGKILL, power) holds everything but the last
``flush_s`` of audio and the scene being written; readers take what is readable and
say what is not.
"""

#: the recorded audio's rate, Hz (16 kHz mono 16-bit WAV).
RATE_HZ = 16_000
#: the files of a session folder.
SESSION_FILE = "session.json"
SCENES_FILE = "scenes.jsonl"
AUDIO_DIR = "audio"
#: the scene kinds that announce a recorded file → the file's track.
TRACKS = {"recorded.mic": "mic", "recorded.voice": "voice"}
