"""Streaming a reply from an OpenAI-compatible chat server, sentence by checked sentence.

:class:`ModelClient` asks ``/v1/chat/completions`` with ``stream=True`` through the official
``openai`` client (any compatible server: llama.cpp, Ollama, vLLM, LM Studio) and yields
the sentences the reply completes (``sentences.py``), stopping at the first one that must
not be said. It does not wait: the caller bounds each wait (``asyncio.wait_for``) and falls
back to the rule reply. After a failure (unreachable, an HTTP error, a time-out) the client
rests for ``retry_s`` so that the next turns do not each wait for a server that is down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from agent.llm.options import LLMOptions
from agent.llm.sentences import SentenceCutter, refusal

if TYPE_CHECKING:
    from openai import AsyncStream
    from openai.types.chat import ChatCompletionChunk

log = logging.getLogger(__name__)


class ModelClient:
    """One server, one model; ``url`` is its ``/v1`` base."""

    def __init__(self, url: str, options: LLMOptions, api_key: str | None = None) -> None:
        """``api_key``: the key to send (the bundled server's); else the one ``options`` names.

        Raises:
            ModuleConfigError: ``options.api_key_env`` names a variable that is not set.
        """
        from openai import AsyncOpenAI

        self.url = url
        self.options = options
        self.model = options.model
        key = api_key or options.api_key()
        self._client = AsyncOpenAI(base_url=url, api_key=key, max_retries=0, timeout=30.0)
        #: monotonic time before which the model is not asked (after a failure).
        self.resting_until = 0.0
        #: time-outs in a row (a slow turn is forgiven once; two in a row rest the model).
        self.slow_in_a_row = 0

    @property
    def ready(self) -> bool:
        """False while it rests after a failure."""
        return time.monotonic() >= self.resting_until

    def slow(self, why: str) -> None:
        """Note a reply that came too late: a log line; the second in a row is a failure."""
        self.slow_in_a_row += 1
        if self.slow_in_a_row >= 2:
            self.failed(why)
        else:
            log.warning("mind: the language model at %s was slow (%s); the rule reply instead", self.url, why)

    def answered(self) -> None:
        """A reply came in time."""
        self.slow_in_a_row = 0

    async def warm(self, timeout_s: float = 60.0) -> None:
        """One tiny request, so that the first turn does not pay for loading and the first
        prompt; a failure is noted (:meth:`failed`), not raised."""
        try:
            model = await self._model_name()
            async with asyncio.timeout(timeout_s):
                await self._client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "Hello."}], max_tokens=1
                )
        except Exception as exc:
            self.failed(f"warming up: {type(exc).__name__}: {exc}")

    def failed(self, why: str) -> None:
        """Note a failure: a log line, and a rest of ``retry_s``."""
        self.slow_in_a_row = 0
        self.resting_until = time.monotonic() + self.options.retry_s
        log.warning(
            "mind: the language model at %s failed (%s); rule replies for the next %.0f s",
            self.url,
            why,
            self.options.retry_s,
        )

    async def _model_name(self) -> str:
        if not self.model:
            models = await self._client.models.list()
            self.model = models.data[0].id
        return self.model

    async def sentences(
        self,
        messages: list[dict[str, str]],
        user_name: str | None = None,
        names: Sequence[str] = (),
        heard_valence: float = 0.0,
    ) -> AsyncIterator[str]:
        """The reply's sentences as they complete, each one fit to be said, at most
        ``max_sentences``; it ends early at the first that is not (logged at info). The
        first must say every one of ``names`` (the rule reply's names: a rewording that
        drops "Tomas" from "Hello, Tomas" is not said). ``heard_valence``: see
        :func:`~agent.llm.sentences.refusal`.

        Raises:
            openai.OpenAIError: the server could not be reached or refused (the caller
                notes it with :meth:`failed`).
        """
        stream: AsyncStream[ChatCompletionChunk] = await self._client.chat.completions.create(
            model=await self._model_name(),
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            temperature=self.options.temperature,
            max_tokens=self.options.max_tokens,
        )  # type: ignore[assignment]
        cutter = SentenceCutter()
        said: list[str] = []

        async def completed() -> AsyncIterator[str]:
            async for chunk in stream:
                delta = chunk.choices[0].delta.content if chunk.choices else None
                for sentence in cutter.feed(delta or ""):
                    yield sentence
            for sentence in cutter.close():
                yield sentence

        try:
            async for sentence in completed():
                why = refusal(sentence, said, user_name, heard_valence)
                if why is None and not said and not all(n in sentence for n in names):
                    why = f"it drops {', '.join(n for n in names if n not in sentence)}"
                if why is not None:
                    log.info("mind: the model's sentence %r is not said: %s", sentence[:80], why)
                    return
                said.append(sentence)
                yield sentence
                if len(said) >= self.options.max_sentences:
                    return
        finally:
            await stream.close()

    async def close(self) -> None:
        await self._client.close()
