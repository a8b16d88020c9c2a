"""First audio of a reply, with the rule mind and with a language model wording it.

    .venv/bin/python -m bench.mind_first_audio [--llm bundled] [--turns 8]

On the virtual sound devices (``modules/voice/io/virtual_devices.py``): a session with the
voice, the mind and MemoryAnchor; each turn is a ``turn`` scene with the words as Whisper
would write them (no listening: this measures the mind and the voice, not hearing), and the
times are from the turn's publication to the reply's first audio rendered and queued
(``voice.tts.first``) and to its first block handed to the speaker (``voice.audio.first``:
outside a live session each reply opens the speaker and leads with the configured silence,
so this one carries a constant ~1 s); the median and the largest of turns 2… are printed
(the first loads what the others reuse), and how many replies the model worded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from agent.paths import PROJECT_ROOT
from modules.voice.io.virtual_devices import audio_rig

SAYINGS = [
    "I had a long day at work today.",
    "My boss shouted at me again in the meeting.",
    "The garden was lovely this morning.",
    "We won the match tonight.",
    "The train was late again.",
    "I am thinking of learning the piano.",
    "My neighbour plays loud music at night.",
    "The soup I cooked was far too salty.",
    "Tomorrow I start a new job.",
    "The bakery had fresh bread.",
]

SCRIPT = """
import asyncio, json, sys, time
from agent.config import load_config
from agent.scene import Scene
from agent.session import Session

async def main(llm, sayings):
    sets = ["modules.vision.enabled=false", "modules.smell.enabled=false", "modules.tactile.enabled=false",
            'modules.memory.path=":memory:"', 'modules.mind.store=":memory:"']
    if llm:
        sets.append(f"modules.mind.llm.url={json.dumps(llm)}")
    async with Session(load_config(None, sets)) as session:
        await session.voice_profile(30)
        for text in sayings:
            turn = Scene(channel="voice", kind="turn", text=text)
            t0 = time.time()
            worded = False
            async for s in session.request(turn, until=lambda s: s.kind in ("spoken", "error"), timeout_s=60):
                if s.kind == "reply":
                    worded = s.piece is not None
                if s.kind == "spoken":
                    stage = {h.stage: h.t_unix_s for h in s.hops}
                    print(json.dumps({"text": text, "ready_s": stage["voice.tts.first"] - t0,
                                      "first_audio_s": stage["voice.audio.first"] - t0, "worded": worded,
                                      "said": s.text}))
            await asyncio.sleep(0.5)

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--llm", default="", help="modules.mind.llm.url (e.g. bundled); none: the rule mind")
    p.add_argument("--turns", type=int, default=len(SAYINGS))
    args = p.parse_args(argv)
    with audio_rig() as rig:
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, args.llm, json.dumps(SAYINGS[: args.turns])],
            env=rig.env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for r in rows:
        who = "model" if r["worded"] else "rules"
        print(f"{r['ready_s'] * 1000:6.0f} ms {r['first_audio_s'] * 1000:6.0f} ms  {who}  {r['said']}")
    ready = [r["ready_s"] * 1000 for r in rows[1:]]  # the first turn loads what the others reuse
    heard = [r["first_audio_s"] * 1000 for r in rows[1:]]
    print(
        f"{'with ' + args.llm if args.llm else 'rule mind'}, turns 2–{len(rows)}: first audio ready "
        f"median {statistics.median(ready):.0f} ms (max {max(ready):.0f}), handed to the speaker median "
        f"{statistics.median(heard):.0f} ms (max {max(heard):.0f}); {sum(r['worded'] for r in rows)} of "
        f"{len(rows)} worded by the model"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
