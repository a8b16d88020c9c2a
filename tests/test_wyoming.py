"""``run.py wyoming``: Home Assistant's speech protocol in front of the agent — one real server
(a subprocess, models loaded once for this file) spoken to over loopback by the ``wyoming``
package's own client, with real recordings, the agent's own voice, and clients that break
the protocol."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import ROOT, SPEECH, run_cli, words_of
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event, async_read_event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

#: the first start loads Whisper, Piper and the analysers and says and hears a sentence (s).
START_S = 240.0
#: a request once the server is warm: well above the slowest (11 s of speech, ~3 s on a
#: loaded 2-core machine), far below a hang.
REQUEST_S = 60.0
#: an answer that needs no model (info, an error).
QUICK_S = 5.0


@dataclass
class Server:
    port: int
    proc: subprocess.Popen
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """One ``run.py wyoming`` for this file, ready once its warm-up (say a sentence, hear it
    back) is logged."""
    port = free_port()
    log = tmp_path_factory.mktemp("wyoming") / "server.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "wyoming", "--uri", f"tcp://127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    running = Server(port, proc, log)
    try:
        deadline = time.monotonic() + START_S
        while not any("warm-up" in line for line in running.lines()):
            assert proc.poll() is None, f"the server exited ({proc.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no warm-up within {START_S:.0f} s:\n{log.read_text()}"
            time.sleep(0.2)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


# --- helpers -------------------------------------------------------------------------------------


def client(server: Server) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", server.port, connect_timeout=QUICK_S)


async def read_until(c: AsyncTcpClient, last: set[str], timeout_s: float) -> list[Event]:
    """Events up to and including the first whose type is in ``last`` (or an error)."""
    events: list[Event] = []
    deadline = time.monotonic() + timeout_s
    while True:
        event = await asyncio.wait_for(c.read_event(), max(0.0, deadline - time.monotonic()))
        assert event is not None, f"the server closed the connection after {[e.type for e in events]}"
        events.append(event)
        if event.type in last or event.type == "error":
            return events


def pcm16(samples: np.ndarray) -> bytes:
    """float32 samples (n,) or (n, channels) as interleaved 16-bit little-endian PCM."""
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def recording(name: str, rate_hz: int, channels: int = 1) -> np.ndarray:
    """A real recording resampled to ``rate_hz``; stereo gets a quieter right channel."""
    samples, rate = sf.read(str(SPEECH / name), dtype="float32", always_2d=True)
    mono = soxr.resample(samples.mean(axis=1), rate, rate_hz)
    return mono if channels == 1 else np.stack([mono, 0.5 * mono], axis=1)


async def transcribe(
    c: AsyncTcpClient, audio: bytes, rate_hz: int, width: int, channels: int, timeout_s: float = REQUEST_S
) -> list[Event]:
    """Send ``audio`` in 1024-frame chunks; the events that answer, to ``transcript-stop``."""
    await c.write_event(Transcribe(language="en").event())
    await c.write_event(AudioStart(rate=rate_hz, width=width, channels=channels).event())
    step = 1024 * width * channels
    for at in range(0, len(audio), step):
        await c.write_event(AudioChunk(rate_hz, width, channels, audio[at : at + step]).event())
    await c.write_event(AudioStop().event())
    return await read_until(c, {"transcript-stop"}, timeout_s)


def text_of(events: list[Event]) -> str:
    assert events[-1].type != "error", events[-1].data
    return next(e.data["text"] for e in events if e.type == "transcript")


def audio_of(events: list[Event]) -> tuple[dict, bytes]:
    """The audio-start's data and the chunks' bytes of one answered synthesize."""
    assert [e.type for e in events][0] == "audio-start" and events[-1].type == "audio-stop", [e.type for e in events]
    return events[0].data, b"".join(e.payload or b"" for e in events if e.type == "audio-chunk")


async def raw(server: Server, data: bytes, half_close: bool = False) -> list[Event | None]:
    """Send raw bytes; what the server answers until it closes (None marks the close)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", server.port), QUICK_S)
    writer.write(data)
    with contextlib.suppress(ConnectionResetError):
        await writer.drain()
    if half_close:
        writer.write_eof()
    answered: list[Event | None] = []
    try:
        while True:
            try:
                event = await asyncio.wait_for(async_read_event(reader), QUICK_S)
            except ConnectionResetError:  # closed with bytes of ours unread: a reset, not a FIN
                event = None
            answered.append(event)
            if event is None:
                return answered
    finally:
        writer.close()


async def still_serves(server: Server) -> None:
    async with client(server) as c:
        await c.write_event(Describe().event())
        (info,) = await read_until(c, {"info"}, QUICK_S)
        assert Info.from_event(info).asr


# --- the parts, without a server ----------------------------------------------------------------


def test_streamed_text_is_cut_into_sentences_as_they_complete() -> None:
    from agent.wyoming.sentences import SentenceStream

    stream = SentenceStream()
    assert stream.add("Hello from ") == []
    assert stream.add('the kitchen. He said "fine." The lights ') == ["Hello from the kitchen.", 'He said "fine."']
    assert stream.add("are on") == [] and stream.finish() == "The lights are on"


def test_a_recording_of_44_1_khz_stereo_becomes_16_khz_mono_and_stops_at_its_limit(tmp_path) -> None:
    from agent.errors import InputError
    from agent.wyoming.recording import Recording

    one_s = pcm16(np.zeros((44_100, 2), np.float32))
    rec = Recording(AudioStart(rate=44_100, width=2, channels=2), tmp_path, max_audio_s=2.5)
    rec.add(AudioChunk(44_100, 2, 2, one_s))
    rec.add(AudioChunk(44_100, 2, 2, one_s))
    with pytest.raises(InputError, match="more than 2.5 s"):
        rec.add(AudioChunk(44_100, 2, 2, one_s))
    path = rec.close()
    assert abs(rec.frames - 32_000) <= 16 and sf.info(str(path)).samplerate == 16_000
    assert sf.info(str(path)).channels == 1
    rec.discard()
    assert not path.exists()


def test_a_declared_length_over_the_limit_is_refused_before_a_byte_of_it_is_read() -> None:
    from agent.wyoming.wire import EventRefused, GuardedReader

    async def main() -> tuple[str, int]:
        stream = asyncio.StreamReader()
        stream.feed_data(_header("audio-chunk", payload_length=10**9) + bytes(1000))
        with pytest.raises(EventRefused) as refused:
            await GuardedReader(stream).read_event()
        return str(refused.value), len(await stream.read(2000))

    message, unread = asyncio.run(main())
    assert "declared length of 1000000000" in message and unread == 1000


# --- describe ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_describe_answers_the_whisper_model_and_the_voice_in_use_with_their_languages(server) -> None:
    async def main() -> Info:
        async with client(server) as c:
            await c.write_event(Describe().event())
            (event,) = await read_until(c, {"info"}, QUICK_S)
            return Info.from_event(event)

    info = asyncio.run(main())
    (asr,) = info.asr
    (model,) = asr.models
    assert asr.installed and asr.version and asr.supports_transcript_streaming
    assert model.name == "tiny.en" and model.languages == ["en"] and model.installed
    assert model.attribution.url == "https://github.com/openai/whisper"
    (tts,) = info.tts
    (voice,) = tts.voices
    assert tts.installed and tts.supports_synthesize_streaming
    assert voice.name == "joe" and voice.languages == ["en_US"] and voice.installed


# --- transcribe ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_recording_sent_as_44_1_khz_stereo_is_converted_and_transcribed(server) -> None:
    audio = pcm16(recording("jfk.flac", 44_100, channels=2))

    async def main() -> list[Event]:
        async with client(server) as c:
            return await transcribe(c, audio, 44_100, 2, 2)

    events = asyncio.run(main())
    assert {"ask", "not", "what", "your", "country", "can", "do", "for", "you"} <= words_of(text_of(events))
    assert any("heard 11.0 s" in line for line in server.lines())


@pytest.mark.slow
def test_24_bit_audio_at_22_05_khz_is_converted_too(server) -> None:
    samples = np.clip(recording("spk1_snt1.wav", 22_050), -1.0, 1.0)
    as_int = (samples * (2**23 - 1)).astype("<i4")
    audio = b"".join(int(v).to_bytes(3, "little", signed=True) for v in as_int)

    async def main() -> list[Event]:
        async with client(server) as c:
            return await transcribe(c, audio, 22_050, 3, 1)

    assert {"child", "small", "dog"} <= words_of(text_of(asyncio.run(main())))


@pytest.mark.slow
def test_the_transcript_streams_start_chunks_transcript_stop_and_the_chunks_make_the_text(server) -> None:
    audio = pcm16(recording("spk1_snt3.wav", 16_000))

    async def main() -> list[Event]:
        async with client(server) as c:
            return await transcribe(c, audio, 16_000, 2, 1)

    events = asyncio.run(main())
    types = [e.type for e in events]
    assert types[0] == "transcript-start" and types[-2:] == ["transcript", "transcript-stop"], types
    assert set(types[1:-2]) == {"transcript-chunk"}, types
    chunks = "".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    assert chunks == text_of(events) and {"high", "level", "air", "pure"} <= words_of(chunks)


@pytest.mark.slow
def test_silence_and_no_audio_at_all_give_an_empty_transcript(server) -> None:
    async def main() -> tuple[list[Event], list[Event]]:
        async with client(server) as c:
            silent = await transcribe(c, bytes(2 * 16_000 * 2), 16_000, 2, 1)
            await c.write_event(AudioStart(rate=16_000, width=2, channels=1).event())
            await c.write_event(AudioStop().event())
            nothing = await read_until(c, {"transcript-stop"}, QUICK_S)
            return silent, nothing

    silent, nothing = asyncio.run(main())
    assert text_of(silent) == "" and text_of(nothing) == ""
    assert [e.type for e in nothing] == ["transcript-start", "transcript", "transcript-stop"]


@pytest.mark.slow
def test_two_clients_at_once_are_both_heard_and_one_that_leaves_mid_stream_costs_the_others_nothing(server) -> None:
    first = pcm16(recording("spk1_snt4.wav", 16_000))
    second = pcm16(recording("spk1_snt5.wav", 48_000))

    async def leaves() -> None:
        async with client(server) as c:
            await c.write_event(AudioStart(rate=16_000, width=2, channels=1).event())
            await c.write_event(AudioChunk(16_000, 2, 1, first[: len(first) // 2]).event())

    async def one(audio: bytes, rate_hz: int) -> str:
        async with client(server) as c:
            return text_of(await transcribe(c, audio, rate_hz, 2, 1))

    async def main() -> list[str]:
        _, a, b = await asyncio.gather(leaves(), one(first, 16_000), one(second, 48_000))
        return [a, b]

    a, b = asyncio.run(main())
    assert {"thin", "stripe", "middle"} <= words_of(a)
    assert {"sunday", "best", "week"} <= words_of(b)
    scratch = next(line for line in server.lines() if "audio in transit in" in line).rsplit(" ", 1)[1].rstrip(")")
    assert Path(scratch).is_dir() and list(Path(scratch).glob("heard-*.wav")) == [], "no WAV left behind"


# --- synthesize ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_synthesize_answers_the_agents_voice_and_what_it_says_is_heard_back(server) -> None:
    async def main() -> tuple[list[Event], list[Event]]:
        async with client(server) as c:
            await c.write_event(Synthesize(text="Hello from the kitchen.").event())
            said = await read_until(c, {"audio-stop"}, REQUEST_S)
            start, audio = audio_of(said)
            heard = await transcribe(c, audio, start["rate"], start["width"], start["channels"])
            return said, heard

    said, heard = asyncio.run(main())
    start, audio = audio_of(said)
    assert (start["rate"], start["width"], start["channels"]) == (22_050, 2, 1)
    assert len(audio) / 2 / start["rate"] > 0.5
    assert {"hello", "kitchen"} <= words_of(text_of(heard))


@pytest.mark.slow
def test_a_synthesize_stream_is_spoken_sentence_by_sentence_then_stopped(server) -> None:
    async def main() -> list[Event]:
        async with client(server) as c:
            await c.write_event(SynthesizeStart().event())
            for piece in ("Hello from ", "the kitchen. The lights ", "are on"):
                await c.write_event(SynthesizeChunk(text=piece).event())
            await c.write_event(Synthesize(text="Hello from the kitchen. The lights are on").event())  # for old servers
            await c.write_event(SynthesizeStop().event())
            return await read_until(c, {"synthesize-stopped"}, REQUEST_S)

    events = asyncio.run(main())
    types = [e.type for e in events]
    assert types.count("audio-start") == 2 and types.count("audio-stop") == 2, types
    assert types[-1] == "synthesize-stopped"
    split = types.index("audio-stop") + 1
    for sentence in (events[:split], events[split:-1]):
        start, audio = audio_of(sentence)
        assert len(audio) / 2 / start["rate"] > 0.5


@pytest.mark.slow
def test_a_voice_this_server_does_not_have_is_an_error_and_the_connection_stays(server) -> None:
    async def main() -> tuple[list[Event], list[Event]]:
        async with client(server) as c:
            await c.write_event(Synthesize(text="Hello.", voice=SynthesizeVoice(name="nobody")).event())
            refused = await read_until(c, {"audio-stop"}, QUICK_S)
            await c.write_event(Describe().event())
            return refused, await read_until(c, {"info"}, QUICK_S)

    refused, info = asyncio.run(main())
    assert Error.from_event(refused[-1]).code == "input.bad-request" and "joe" in refused[-1].data["text"]
    assert info[-1].type == "info"


# --- clients that break the protocol -------------------------------------------------------------


def _header(event_type: str, data: dict | None = None, **lengths: int) -> bytes:
    return json.dumps({"type": event_type, "data": data or {}, **lengths}).encode() + b"\n"


BROKEN = {
    "garbage bytes": b"\x00\xff\xfe not a wyoming event at all\n",
    "a JSON array": b"[1, 2, 3]\n",
    "a header without a type": b'{"data": {}}\n',
    "data that is not an object": b'{"type": "audio-start", "data": [16000, 2, 1]}\n',
    "half an event": _header("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, payload_length=1000)
    + bytes(10),
}


@pytest.mark.slow
@pytest.mark.parametrize("what", list(BROKEN))
def test_a_broken_event_is_answered_with_an_error_and_a_close_and_the_next_client_is_served(server, what) -> None:
    answered = asyncio.run(raw(server, BROKEN[what], half_close=what == "half an event"))
    assert answered[-1] is None, "the connection was closed"
    errors = [e for e in answered if e is not None]
    assert [e.type for e in errors] == ["error"] and errors[0].data["code"] == "input.malformed", errors
    asyncio.run(still_serves(server))
    assert any("disconnecting" in line for line in server.lines())


BAD_AUDIO = {
    "audio-chunk before audio-start": [AudioChunk(16000, 2, 1, bytes(2048)).event()],
    "rate 0": [AudioStart(rate=0, width=2, channels=1).event()],
    "channels 0": [AudioStart(rate=16000, width=2, channels=0).event()],
    "width 5": [AudioStart(rate=16000, width=5, channels=1).event()],
    "three channels": [AudioStart(rate=16000, width=2, channels=3).event()],
    "half a frame": [AudioStart(rate=16000, width=2, channels=2).event(), AudioChunk(16000, 2, 2, bytes(6)).event()],
    "a language the model does not hear": [Transcribe(language="de").event()],
}


@pytest.mark.slow
@pytest.mark.parametrize("what", list(BAD_AUDIO))
def test_audio_out_of_order_or_in_a_format_that_cannot_be_converted_is_an_error(server, what) -> None:
    async def main() -> list[Event]:
        async with client(server) as c:
            for event in BAD_AUDIO[what]:
                await c.write_event(event)
            events = await read_until(c, set(), QUICK_S)
            assert await asyncio.wait_for(c.read_event(), QUICK_S) is None, "closed after the error"
            return events

    (error,) = asyncio.run(main())
    assert Error.from_event(error).code == "input.bad-request", error.data
    asyncio.run(still_serves(server))


@pytest.mark.slow
def test_a_huge_declared_payload_is_refused_before_it_is_read(server) -> None:
    header = _header("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, payload_length=10**12)
    answered = asyncio.run(raw(server, header))
    assert answered[-1] is None and answered[0] is not None
    assert answered[0].type == "error" and "declared length" in answered[0].data["text"], answered[0].data
    # Sent with the bytes it declares following: refused all the same, nothing buffered.
    before_kib = server.rss_kib()
    for _ in range(3):
        assert asyncio.run(raw(server, header + bytes(8 << 20)))[-1] is None
    assert server.rss_kib() - before_kib < 20 * 1024, "the server did not buffer the payloads"
    asyncio.run(still_serves(server))


@pytest.mark.slow
def test_more_than_ten_minutes_of_audio_in_one_transcription_is_refused(server) -> None:
    block = bytes(4_000_000)  # 8 kHz, 8-bit mono: 500 s per chunk

    async def main() -> list[Event]:
        async with client(server) as c:
            await c.write_event(AudioStart(rate=8000, width=1, channels=1).event())
            for _ in range(2):
                await c.write_event(AudioChunk(8000, 1, 1, block).event())
            return await read_until(c, set(), REQUEST_S)

    (error,) = asyncio.run(main())
    assert error.type == "error" and "600 s" in error.data["text"]
    asyncio.run(still_serves(server))


# --- the command ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("zeroconf") is not None, reason="zeroconf is installed here")
def test_zeroconf_without_its_package_is_a_clear_message_and_exit_3() -> None:
    result = run_cli("wyoming", "--uri", f"tcp://127.0.0.1:{free_port()}", "--zeroconf", timeout=60)
    assert result.code == 3, result.stderr
    assert "pip install zeroconf" in result.stderr


@pytest.mark.slow
def test_an_address_that_is_not_tcp_or_unix_is_refused_before_loading_anything() -> None:
    result = run_cli("wyoming", "--uri", "http://127.0.0.1:10300", timeout=60)
    assert result.code == 2 and "tcp://HOST:PORT" in result.stderr, result.stderr


@pytest.mark.slow
def test_sigterm_stops_the_server_with_exit_0(server) -> None:
    """Last in this file: it ends the file's server."""
    os.kill(server.proc.pid, signal.SIGTERM)
    assert server.proc.wait(timeout=15) == 0
    assert server.lines()[-1].endswith("stopped"), server.lines()[-5:]
