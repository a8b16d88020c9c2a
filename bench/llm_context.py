"""Does the scene context reach the bundled model? A fact only memory held, asked back.

    .venv/bin/python -m bench.llm_context [--tries 10] [--temperature 0.7]

Starts the bundled SmolLM2-135M (llama.cpp server through xllamacpp), builds the mind's
messages (``agent/llm/prompt.py``) for a user whose place of origin memory announced from an
earlier session, with no reply decided by the rules (the model answers from the context
alone), and counts the answers that name the place. Each question is asked ``--tries``
times at ``--temperature``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from agent.compress import compress
from agent.converse import SessionMemory
from agent.facts import Fact
from agent.llm.bundled import BundledServer
from agent.llm.prompt import messages
from agent.mood import Mood
from agent.scene import Scene

QUESTIONS = ("Where am I from?", "Where do I live?", "Do you know where I live?")


async def _ask(url: str, key: str, said: list[dict[str, str]], temperature: float) -> str:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key=key, max_retries=0)
    try:
        answer = await client.chat.completions.create(
            model="smollm2",
            messages=said,  # type: ignore[arg-type]
            temperature=temperature,
            max_tokens=40,
        )
        return answer.choices[0].message.content or ""
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tries", type=int, default=10)
    p.add_argument("--temperature", type=float, default=0.7)
    args = p.parse_args(argv)
    memory = SessionMemory(name="Anna")
    memory.learn(Fact("user", "place", "", "Lisbon"))
    server = BundledServer()
    url = server.start()
    try:
        for question in QUESTIONS:
            turn = Scene(channel="voice", kind="turn", text=question)
            said = messages(turn, compress(turn), [], memory, Mood(), None)
            answers = [asyncio.run(_ask(url, server.api_key, said, args.temperature)) for _ in range(args.tries)]
            hits = sum("lisbon" in a.lower() for a in answers)
            print(f"{question!r}: names Lisbon in {hits}/{args.tries}; e.g. {answers[0]!r}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
