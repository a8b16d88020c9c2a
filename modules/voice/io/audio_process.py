"""The full-duplex audio's own process: nothing else runs there, so the audio never waits.
The microphone and the speaker are two streams paired block by block
(:class:`~modules.voice.io.stream_pair.StreamPair`), which the parent sees as one.

PortAudio calls back into Python for every block, and a Python callback needs the
interpreter lock. In the agent's process other threads hold that lock for long stretches
(measured here: openai-whisper's decoding 160 ms, librosa's pYIN 104 ms), so a callback
with small device buffers came too late: a gap on the speaker, a block lost from the
microphone, and the echo's delay moved by hundreds of ms. Buffers big enough to ride that
out (80 ms each way) made every barge-in 0.4 s slow. So the stream lives in a child
process whose only work is the callback: :func:`serve` runs there, with small (40 ms)
buffers, and talks to :class:`~modules.voice.io.duplex.AudioLoop` over a pipe.

Messages (tuples; the pipe joins two processes of this program, nothing else writes it):

parent → child
    ``("track", id, rate_hz)``, ``("play", id, float32 bytes, sound)``, ``("close", id)``,
    ``("stop", id)``, ``("hold",)``, ``("resume",)``, ``("restart",)``, ``("quit",)``
child → parent
    ``("ready", microphone name, speaker name, rate_hz, output latency s)`` or
    ``("failed", message)`` once; then per callback ``("io", heard bytes, played bytes,
    xrun, unix s of the callback)`` (float32 at ``rate_hz``); ``("first", id, unix s)`` when a track's first sound
    is handed over; ``("done", id, played_s)`` when a track has been heard or cut;
    ``("alsa", message)`` for what ALSA's library would print on stderr (an underrun), for
    the parent to log (an appliance's log is JSON lines, which C's prints would break).

Only numpy, soxr and sounddevice are imported here (the child starts in ~0.3 s).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import threading
import time
from multiprocessing.connection import Connection

import numpy as np

from agent.cores import share_cores
from modules.voice.io.devices import _sounddevice, device_name
from modules.voice.io.playback import Playback, Track
from modules.voice.io.stream_pair import StreamPair
from modules.voice.rates import RATE_HZ

#: the stream's block (s); a hold or a cut starts within one. (10 ms blocks with "low"
#: buffers broke PulseAudio's ALSA plug-in: the capture side stopped delivering.)
BLOCK_S = 0.02
#: the device buffers, each way (s). PortAudio's "low" (8.7 ms on PulseAudio) underran
#: again and again while the agent's threads kept both cores busy, and after enough of that
#: the ALSA plug-in's capture side stopped; 40 ms rode it out.
LATENCY_S = 0.04


#: the nice value the audio process asks for: PulseAudio's own ``nice-level`` default.
AUDIO_NICE = -11


def _audio_first() -> None:
    """Ask the scheduler to run this process before the agent's own work (nice
    ``AUDIO_NICE``): on two cores, Whisper's and Piper's threads otherwise delay the callback
    past its block and the device underruns. Allowed for root, with ``CAP_SYS_NICE`` or an
    ``RLIMIT_NICE`` allowance (systemd ``LimitNICE=``); otherwise it runs at the agent's
    priority, as before."""
    with contextlib.suppress(OSError):  # not allowed: the agent's priority, as before
        os.setpriority(os.PRIO_PROCESS, 0, AUDIO_NICE)


#: ALSA's error callback: (file, line, function, error number, printf format, …).
_ALSA_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
#: the installed callback, kept alive for as long as the library may call it.
_alsa_handler: object = None


def _alsa_to(outbox: queue.SimpleQueue) -> None:
    """Hand ALSA's error messages to ``outbox`` as ``("alsa", text)`` instead of letting
    the library print them on stderr (``snd_lib_error_set_handler``). The variadic
    arguments cannot be read through ctypes: the text is the function and the format
    ("snd_pcm_recover: underrun occurred"). Without libasound, nothing to do."""
    global _alsa_handler
    try:
        alsa = ctypes.cdll.LoadLibrary("libasound.so.2")
    except OSError:
        return

    def handler(_file: bytes, _line: int, function: bytes, _err: int, fmt: bytes) -> None:
        text = (fmt or b"").decode(errors="replace").replace("%s", "").strip()
        outbox.put(("alsa", f"{(function or b'').decode(errors='replace')}: {text}"))

    _alsa_handler = _ALSA_HANDLER(handler)
    alsa.snd_lib_error_set_handler(_alsa_handler)


def _restart(stream: StreamPair, restarts: list[int], restarted: threading.Event, outbox: queue.SimpleQueue) -> None:
    """Abort the stream and start it again (~10–30 ms): what the devices buffered is
    dropped, and with it the latency each late callback added (the sound server plays
    every sample it was given, later after each gap: measured on the virtual devices, each
    100 ms a callback came late added ~45 ms to the echo's delay, for good). The next block
    is marked as an xrun."""
    restarts[0] += StreamPair.STREAMS
    try:
        stream.abort()
        restarted.set()
        stream.start()
    except Exception as exc:  # the device went away meanwhile: the parent says so
        outbox.put(("failed", f"the audio stream did not restart: {type(exc).__name__}: {exc}"))


def serve(conn: Connection, input_device: str | int | None, output_device: str | int | None, rate_hz: int) -> None:
    """Run the paired streams until ``("quit",)`` or the parent goes away (the child's main).

    ``rate_hz`` 0: 16 kHz, or the output device's default rate where the devices refuse it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this ends
    _audio_first()
    share_cores()  # no BLAS worker of this higher-priority process spins on the agent's core
    outbox: queue.SimpleQueue[tuple | None] = queue.SimpleQueue()
    _alsa_to(outbox)
    tracks: dict[int, Track] = {}
    reported: set[int] = set()
    lock = threading.Lock()
    try:
        sd = _sounddevice()
        mic, spk = device_name("input", input_device), device_name("output", output_device)
        playback = Playback(output_device, rate_hz or RATE_HZ)

        restarted = threading.Event()  # the next block follows a restart: a gap on both sides

        def on_block(heard: np.ndarray, played: np.ndarray, xrun: bool) -> None:
            xrun = xrun or restarted.is_set()
            restarted.clear()
            # Stamped here: the agent's own threads may take the message late when busy.
            outbox.put(("io", heard.tobytes(), played.tobytes(), xrun, time.time()))

        def open_at(rate: int) -> StreamPair:
            return StreamPair(
                sd,
                input_device,
                output_device,
                rate,
                round(BLOCK_S * rate),
                LATENCY_S,
                playback.fill,
                on_block,
                finished,
            )

        restarts = [0]  # stream stops asked for here (a restart), not a vanished device

        def finished() -> None:
            if restarts[0] > 0:
                restarts[0] -= 1
            else:
                outbox.put(("failed", "the audio stream stopped (device removed?)"))

        try:
            # 16 kHz where the devices take it: what is heard needs no resampling (the
            # turn model's borderline verdicts moved when it was resampled from 44.1 kHz).
            stream = open_at(rate_hz or RATE_HZ)
        except sd.PortAudioError:
            if rate_hz:  # the rate was asked for: no other
                raise
            rate_hz = int(sd.query_devices(output_device, "output")["default_samplerate"])
            stream = open_at(rate_hz)
        rate_hz = rate_hz or RATE_HZ
        playback.rate_hz = rate_hz
        playback.attach(spk, rate_hz, float(stream.latency[1]))
        stream.start()
    except Exception as exc:  # no device, a rate refused: the parent says so
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return

    def send() -> None:
        while (item := outbox.get()) is not None:
            try:
                conn.send(item)
                with lock:
                    for key, track in list(tracks.items()):
                        if track.first_sound_unix_s is not None and key not in reported:
                            reported.add(key)
                            conn.send(("first", key, track.first_sound_unix_s))
                        if track.finished.is_set():
                            conn.send(("done", key, track.played_s))
                            del tracks[key]
                            reported.discard(key)
            except (OSError, ValueError):  # the parent is gone
                return

    # "ready" goes first, and only then the sender, the one thread that writes the pipe from
    # here on: what the callback (and ALSA) queued meanwhile follows it.
    conn.send(("ready", mic, spk, rate_hz, playback.latency_s))
    sender = threading.Thread(target=send, name="audio-send", daemon=True)
    sender.start()
    try:
        while True:
            msg = conn.recv()
            kind = msg[0]
            if kind == "quit":
                break
            if kind == "track":
                with lock:
                    tracks[msg[1]] = playback.track(msg[2])
            elif kind == "play" and msg[1] in tracks:
                tracks[msg[1]].play(np.frombuffer(msg[2], np.float32), msg[3])
            elif kind == "close" and msg[1] in tracks:
                tracks[msg[1]].close()
            elif kind == "stop" and msg[1] in tracks:
                tracks[msg[1]].stop.set()
            elif kind == "hold":
                playback.hold()
            elif kind == "resume":
                playback.resume()
            elif kind == "restart":
                _restart(stream, restarts, restarted, outbox)
    except (EOFError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            stream.stop()
            stream.close()
        outbox.put(None)
        sender.join(2)
