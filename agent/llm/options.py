"""``[modules.mind.llm]``: which model words the mind's replies, and how long to wait for it."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.module import ModuleConfigError, parse_options

#: ``url`` that starts the bundled model's server (``agent/llm/bundled.py``).
BUNDLED = "bundled"


@dataclass(frozen=True)
class LLMOptions:
    """How the mind reaches a language model.

    Attributes:
        url: the server's ``/v1`` base (``http://127.0.0.1:8080/v1``); ``"bundled"`` starts
            the bundled SmolLM2-135M on loopback; ``""`` (default) uses no model.
        model: the model name the server knows it by (``""``: the server's first).
        api_key_env: the name of an environment variable holding the API key (``""``: none).
        first_sentence_s: the longest wait for the model's first sentence before the rule
            reply is spoken instead (seconds).
        sentence_s: the longest wait for each further sentence (seconds); past it the reply
            ends where it is.
        max_sentences: the most sentences a reply may have.
        max_tokens: the most tokens asked of the model per reply.
        temperature: sampling temperature.
        threads: CPU threads the bundled server generates with (one leaves a core to Whisper
            and Piper).
        batch_threads: CPU threads it reads the prompt with (between hearing and speaking
            both cores are free: 2 read the ~250-token prompt in 0.5–0.75 s, 1 in 0.9–1.0 s).
        retry_s: after a failure, how long the model is left alone before it is tried again.
    """

    url: str = ""
    model: str = ""
    api_key_env: str = ""
    first_sentence_s: float = 1.5
    sentence_s: float = 3.0
    max_sentences: int = 3
    max_tokens: int = 80
    temperature: float = 0.2
    threads: int = 1
    batch_threads: int = 2
    retry_s: float = 30.0

    @classmethod
    def parse(cls, options: Mapping[str, Any] | None) -> LLMOptions:
        """Checked options.

        Raises:
            ModuleConfigError: an unknown key, a wrong type, or a value out of range.
        """
        o = parse_options(cls, dict(options or {}), "mind.llm")
        for name in ("first_sentence_s", "sentence_s", "retry_s"):
            value = getattr(o, name)
            if not (math.isfinite(value) and value > 0):
                raise ModuleConfigError(f"modules.mind.llm.{name} must be a positive number of seconds, got {value}")
        if min(o.max_sentences, o.max_tokens, o.threads, o.batch_threads) < 1:
            raise ModuleConfigError(
                "modules.mind.llm: max_sentences, max_tokens, threads and batch_threads must be at least 1"
            )
        if not 0.0 <= o.temperature <= 2.0:
            raise ModuleConfigError(f"modules.mind.llm.temperature must be within 0…2, got {o.temperature}")
        if o.url and o.url != BUNDLED and not o.url.startswith(("http://", "https://")):
            raise ModuleConfigError(f"modules.mind.llm.url must be an http(s) URL or {BUNDLED!r}, got {o.url!r}")
        return o

    def api_key(self) -> str:
        """The key from the environment variable ``api_key_env`` names (``"none"`` without one:
        the client library wants some key).

        Raises:
            ModuleConfigError: the variable is named but not set.
        """
        if not self.api_key_env:
            return "none"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ModuleConfigError(
                f"modules.mind.llm.api_key_env names {self.api_key_env!r}, which is not set in the environment"
            )
        return key
