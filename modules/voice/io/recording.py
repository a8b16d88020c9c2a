"""The live stream's audio into a recorded session folder: what the microphone heard and
what the agent played (its replies, silence between them), as the tracks ``mic`` and
``voice`` of ``agent/record`` (the format: ``agent/record/__init__.py``).

Full duplex (:class:`AudioLoop`), both sides are tapped as they come through the pipe from
the audio process, at 16 kHz, before echo cancellation (:attr:`AudioLoop.tap_mic`,
:attr:`AudioLoop.tap_played`): on the pipe's thread, not the event loop's, which runs
seconds behind the device while a turn is heard — audio waiting there would be lost to a
kill. Each file's ``t_start`` is on the stream's clock (the clock of turn scenes) to within
the echo canceller's hold (≤ 10 ms). With a microphone alone (replies to files), the heard
side is tapped as it is cut into frames (:attr:`Frames.tap_heard`), exact to the sample.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from agent.parts import Result
from agent.record.options import RecordOptions
from agent.record.track import AudioTrack
from agent.scene import Scene
from modules.voice.io.devices import Frames
from modules.voice.io.duplex import AudioLoop
from modules.voice.rates import FRAME_SAMPLES, RATE_HZ

log = logging.getLogger(__name__)


class LiveRecorder:
    """Records each live stream while a session folder is set.

    Args:
        publish: puts a scene on the bus (the ``recorded.*`` announcements).
    """

    def __init__(self, publish: Callable[[Scene], Awaitable[None]]) -> None:
        self.publish = publish
        self.folder: Path | None = None
        self._stream: tuple[Scene, Frames] | None = None
        self._tracks: list[AudioTrack] = []
        self._announcing: set[asyncio.Task] = set()

    def record_to(self, folder: Path) -> None:
        """Record into ``folder`` from now on (a stream already open too)."""
        self.close_tracks()
        self.folder = folder
        if self._stream is not None:
            self._tap(*self._stream)

    def opened(self, request: Scene, source: Frames) -> None:
        """A live stream opened for ``request``: record it when a folder is set."""
        self._stream = (request, source)
        if self.folder is not None:
            self._tap(request, source)

    def closed(self) -> None:
        """The stream closed: its files are closed."""
        if self._stream is not None:
            source = self._stream[1]
            source.tap_heard = None
            if isinstance(source, AudioLoop):
                source.tap_mic = source.tap_played = None
        self._stream = None
        self.close_tracks()

    def close_tracks(self) -> None:
        for track in self._tracks:
            track.close()
        self._tracks = []

    def _tap(self, request: Scene, source: Frames) -> None:
        folder = self.folder
        assert folder is not None
        o = RecordOptions.of_folder(folder)
        loop = asyncio.get_running_loop()

        def track(name: str, samples_so_far: int, device: str) -> AudioTrack:
            def announce(path: str, t_start: float) -> None:
                recorded = Result(path=path, device=device)
                scene = request.derive(
                    channel="voice", kind=f"recorded.{name}", t_start=round(t_start, 6), result=recorded
                )
                task = loop.create_task(self.publish(scene), name=f"voice:recorded:{path}")
                self._announcing.add(task)
                task.add_done_callback(self._announcing.discard)

            t_start = (samples_so_far - FRAME_SAMPLES) / RATE_HZ
            made = AudioTrack(folder, name, t_start, o.flush_s, o.rotate_s, announce)
            self._tracks.append(made)
            return made

        if isinstance(source, AudioLoop):
            source.tap_mic = track("mic", source.samples_heard, source.name).write
            source.tap_played = track("voice", source.samples_played, source.playback.name).write
        else:
            source.tap_heard = track("mic", source.samples_cut, source.name).write
        log.info("voice: recording the stream into %s", folder)
