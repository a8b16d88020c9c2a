"""A touch while the agent speaks cuts the reply short: tactile → interrupt → voice stops.

Real parts end to end: the voice module speaks through PulseAudio's virtual speaker
(``modules/voice/io/virtual_devices.py``), the tactile module reads a real tap from a file,
and both meet only on the bus.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import DATA, ROOT

from modules.voice.io.virtual_devices import audio_rig

pytestmark = [pytest.mark.slow, pytest.mark.audio_rig]

#: a reply long enough to be still playing when the tap arrives (about 24 s of speech).
LONG_REPLY = " ".join(["The river runs slowly past the old mill, and the evening light falls on the water."] * 4)

#: the agent's side, run with the rig's environment: a session with voice and tactile; a
#: reply is spoken on the speaker; after ``wait_s`` a tap arrives; prints the spoken scene.
SCRIPT = """
import asyncio, json, sys
from agent.config import load_config
from agent.parts import Request
from agent.scene import Scene
from agent.session import Session

async def main(text, taps, wait_s):
    config = load_config(None, ["modules.vision.enabled=false", "modules.smell.enabled=false"])
    async with Session(config) as session:
        reply = Scene(channel="voice", kind="reply", text=text)
        lineage = session.request(reply, until=lambda s: s.kind in ("spoken", "error"), timeout_s=120)
        first = asyncio.ensure_future(lineage.__anext__())
        await asyncio.sleep(wait_s)
        tap = Scene(channel="tactile", kind="touch.file", request=Request(path=taps))
        async for scene in session.request(tap, until=lambda s: s.kind in ("done", "error"), timeout_s=60):
            pass
        got = await first
        while got.kind not in ("spoken", "error"):
            got = await lineage.__anext__()
        print(got.to_json())

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


def test_a_tap_while_the_agent_speaks_cuts_the_reply_short(tmp_path) -> None:
    taps = tmp_path / "tap.jsonl"
    lines = (DATA / "tactile" / "touches.jsonl").read_text().splitlines()[:2]  # one tap: down, up
    taps.write_text("\n".join(lines) + "\n")
    with audio_rig() as rig:
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, LONG_REPLY, str(taps), "6.0"],
            env=rig.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    spoken = json.loads(proc.stdout.strip().splitlines()[-1])
    assert spoken["kind"] == "spoken", spoken
    heard_s = spoken["result"]["cut_at_s"]
    assert heard_s is not None, "the tap did not cut the reply"
    # The reply is about 15 s long; the tap came 6 s after it was asked for, so at most those
    # 6 s had been heard, and the tap's own way to the speaker (the file read, the interrupt
    # scene, the fade): 1 s. (The bound was 6.0, counting on the first sentence's rendering
    # to take part of the 6 s; a reply that streams its first clause at once reached it.)
    assert 0.0 <= heard_s < 7.0, heard_s
    assert spoken["t_end"] == heard_s, "the spoken scene ends where the listener stopped hearing it"
    # What was rendered before the cut (the reply streams: the rest is never rendered) is more
    # than what was heard (3.11 s rendered, 1.78 s heard on a slow 2-core machine).
    assert spoken["sound"]["duration_s"] > heard_s + 0.5, "the reply was longer than what was heard"
