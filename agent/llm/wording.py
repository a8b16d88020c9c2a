"""A reply worded by a model, streamed onto the bus piece by piece (``agent/parts.Piece``).

:func:`stream_reply` waits for the model's first fit sentence (``first_sentence_s``) and
publishes it as the ``reply`` (piece 0, in place of the rule reply: same id, parents and
hops), then each next sentence as a ``reply.more`` (parent: the reply), waiting at most
``sentence_s`` for each, then the piece marked ``last``. Whatever breaks the stream after
the first sentence (a time-out, a server that dies) ends the reply where it is: the last
piece always goes out, so a voice never waits for more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from agent.lexicon import text_lexemes
from agent.llm.client import ModelClient
from agent.parts import Piece
from agent.scene import Scene

log = logging.getLogger(__name__)


async def stream_reply(
    llm: ModelClient,
    rule: Scene,
    sentences: AsyncIterator[str],
    planned: Callable[[Scene], Scene],
    publish: Callable[[Scene], Awaitable[None]],
) -> bool:
    """Publish the model's ``sentences`` as the reply that replaces ``rule``.

    Args:
        llm: the client the sentences come from (told of failures and slowness).
        rule: the rule mind's reply (its id, parents, meaning and act are kept).
        sentences: :meth:`ModelClient.sentences` for this reply.
        planned: gives a piece its voice plan.
        publish: puts a scene on the bus.

    Returns:
        False — nothing published, the caller says ``rule`` — when no fit first sentence
        came within ``first_sentence_s`` or the server failed before it.
    """
    o = llm.options
    try:
        async with asyncio.timeout(o.first_sentence_s):
            first = await anext(sentences)
    except StopAsyncIteration:
        log.info("mind: the model's reply had no sentence fit to say; the rule reply instead")
        return False
    except TimeoutError:
        llm.slow(f"no sentence within {o.first_sentence_s:g} s")
        return False
    except Exception as exc:  # unreachable, refused, broken off: the rules answer
        llm.failed(f"{type(exc).__name__}: {exc}")
        return False
    reply = planned(
        rule.derive(
            channel="voice",
            kind="reply",
            id=rule.id,
            parents=list(rule.parents),
            hops=list(rule.hops),
            text=first,
            core=rule.core,
            lexemes=text_lexemes(first),
            mode=rule.mode,
            act=rule.act,
            register=rule.register,
            language=rule.language,
            source=f"{rule.source}:{llm.model}",
            piece=Piece(0, last=False),
        )
    )
    llm.answered()
    await publish(reply)
    index = 1
    try:
        while True:
            try:
                async with asyncio.timeout(o.sentence_s):
                    sentence = await anext(sentences)
            except StopAsyncIteration:
                break
            except TimeoutError:
                log.info("mind: the model's next sentence took over %g s; the reply ends here", o.sentence_s)
                break
            except Exception as exc:
                llm.failed(f"{type(exc).__name__}: {exc}")
                break
            more = reply.derive(
                channel="voice",
                kind="reply.more",
                text=sentence,
                mode=reply.mode,
                act=reply.act,
                register=reply.register,
                language=reply.language,
                source=reply.source,
                piece=Piece(index, last=False),
            )
            await publish(planned(more))
            index += 1
    finally:
        await publish(
            reply.derive(channel="voice", kind="reply.more", source=reply.source, piece=Piece(index, last=True))
        )
        with contextlib.suppress(Exception):
            await sentences.aclose()  # type: ignore[attr-defined]
    return True
