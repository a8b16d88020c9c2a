"""Transcript time through the Wyoming server against the agent's own hearing in process.

    .venv/bin/python -m bench.wyoming_transcribe [--file tests/data/speech/jfk.flac] [--runs 5]

The same real speech (default: jfk.flac, 11 s, as 16 kHz mono 16-bit, what the agent hears)
is heard both ways, one after the other (never at once: two cores):

1. through ``run.py wyoming`` (a subprocess on a free loopback port, ready once its warm-up is
   logged): ``audio-start``, 1024-frame ``audio-chunk``s, ``audio-stop``; timed from the
   ``audio-stop`` sent to the ``transcript`` received;
2. in process, the way ``run.py analyze`` hears: a :class:`~agent.session.Session` with the same
   config and module, a ``listen.turn`` request for the same WAV, timed from the request
   published to its ``turn`` scene.

One warm-up each, then ``--runs`` runs; prints the medians and wyoming ÷ in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient

from agent.config import load_config
from agent.parts import Request
from agent.paths import PROJECT_ROOT
from agent.scene import Scene
from agent.session import Session

RATE_HZ = 16_000
READY_S = 300.0
REQUEST_S = 300.0


def speech_wav(source: Path, folder: Path) -> tuple[Path, bytes]:
    """``source`` as a 16 kHz mono 16-bit WAV in ``folder``, and its PCM."""
    samples, rate = sf.read(str(source), dtype="float32", always_2d=True)
    mono = soxr.resample(samples.mean(axis=1), rate, RATE_HZ)
    pcm = (np.clip(mono, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    path = folder / "speech.wav"
    with wave.open(str(path), "wb") as out:
        out.setframerate(RATE_HZ)
        out.setsampwidth(2)
        out.setnchannels(1)
        out.writeframes(pcm)
    return path, pcm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wyoming_once(port: int, pcm: bytes) -> tuple[float, str]:
    """(seconds from audio-stop sent to transcript received, the transcript)."""
    async with AsyncTcpClient("127.0.0.1", port) as c:
        await c.write_event(AudioStart(rate=RATE_HZ, width=2, channels=1).event())
        for at in range(0, len(pcm), 2048):
            await c.write_event(AudioChunk(RATE_HZ, 2, 1, pcm[at : at + 2048]).event())
        await c.write_event(AudioStop().event())
        t0 = time.perf_counter()
        while True:
            event = await asyncio.wait_for(c.read_event(), REQUEST_S)
            if event is None or event.type == "error":
                raise SystemExit(f"the server answered {event}")
            if event.type == "transcript":
                return time.perf_counter() - t0, event.data["text"]


def through_wyoming(pcm: bytes, runs: int, log: Path) -> list[tuple[float, str]]:
    port = free_port()
    command = [sys.executable, str(PROJECT_ROOT / "run.py"), "wyoming", "--uri", f"tcp://127.0.0.1:{port}"]
    print("$", " ".join([sys.executable, "run.py", *command[2:]]))
    with log.open("w") as err:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + READY_S
        while "warm-up" not in log.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not get ready:\n{log.read_text()}")
            time.sleep(0.2)
        return [asyncio.run(wyoming_once(port, pcm)) for _ in range(runs + 1)][1:]
    finally:
        server.terminate()
        server.wait(timeout=30)


async def in_process(wav: Path, runs: int) -> list[tuple[float, str]]:
    """The same hearing in this process: ``listen.turn`` → ``turn`` on a session of the
    module the server runs."""
    timed = []
    async with Session(load_config(), only={"voice"}) as session:
        for _ in range(runs + 1):
            request = Scene(channel="voice", kind="listen.turn", request=Request(path=str(wav)), source="bench")
            t0 = time.perf_counter()
            async for scene in session.request(request, lambda s: s.kind in ("turn", "error"), REQUEST_S):
                if scene.kind == "error":
                    raise SystemExit(f"the agent answered {scene.error}")
                if scene.kind == "turn":
                    timed.append((time.perf_counter() - t0, scene.text or ""))
    return timed[1:]


def main(source: Path, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        wav, pcm = speech_wav(source, Path(folder))
        print(f"{source.name}: {len(pcm) / 2 / RATE_HZ:.1f} s of speech, {runs} runs after one warm-up each")
        served = through_wyoming(pcm, runs, Path(folder) / "server.log")
        print("$ (in process) Session(voice) + listen.turn")
        own = asyncio.run(in_process(wav, runs))
    wyoming_s = statistics.median(t for t, _ in served)
    own_s = statistics.median(t for t, _ in own)
    print(f"heard: {served[-1][1]!r}")
    print(
        f"{'through wyoming (audio-stop → transcript)':44} {wyoming_s:6.2f} s   runs "
        + " ".join(f"{t:.2f}" for t, _ in served)
    )
    print(f"{'in process (listen.turn → turn)':44} {own_s:6.2f} s   runs " + " ".join(f"{t:.2f}" for t, _ in own))
    print(f"{'wyoming ÷ in process':44} {wyoming_s / own_s:6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=PROJECT_ROOT / "tests" / "data" / "speech" / "jfk.flac")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    main(args.file, args.runs)
