"""A reading and its verdict → a smell scene (channel ``smell``, kind ``smell``)."""

from __future__ import annotations

from agent.scene import Scene
from modules.smell.readings import Reading
from modules.smell.rules import Verdict


def smell_scene(reading: Reading, verdict: Verdict, cause: Scene | None) -> Scene:
    """The smell scene of ``reading``: ``odor`` = the measured reading, ``smell`` = the
    descriptors' phrase (``smoke and damp``), ``core``/``lexemes``/``mode`` from the rule
    table, ``source`` = the file or device, ``t_start`` = the sensor's time (seconds), and
    ``cause`` (the request or the ``sniffing`` scene) as parent."""
    fields = dict(
        channel="smell",
        kind="smell",
        source=reading.source,
        t_start=reading.t_s,
        odor=reading.odor,
        smell=verdict.phrase,
        core=verdict.core,
        lexemes=list(verdict.lexemes),
        mode=verdict.mode,
    )
    if cause is None:
        return Scene(**fields)
    return cause.derive(**fields)
