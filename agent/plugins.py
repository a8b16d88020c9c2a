"""Finding channel modules through the ``scenevoice.modules`` entry-point group."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from agent.module import Module

log = logging.getLogger(__name__)

GROUP = "scenevoice.modules"


@dataclass
class Plugin:
    """An installed module: its entry point, the class once loaded, or why it failed."""

    name: str
    entry_point: EntryPoint
    cls: type[Module] | None = None
    error: str | None = None

    @property
    def target(self) -> str:
        return self.entry_point.value

    @property
    def summary(self) -> str:
        doc = (self.cls.__doc__ or "").strip().splitlines() if self.cls else []
        return doc[0] if doc else ""


def discover() -> dict[str, Plugin]:
    """Every module installed in the group, loaded. A module that fails to import is
    returned with ``error`` set instead of breaking discovery."""
    found: dict[str, Plugin] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        plugin = Plugin(ep.name, ep)
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party module must not break the agent
            plugin.error = f"cannot import {ep.value}: {type(exc).__name__}: {exc}"
            log.warning("module %s: %s", ep.name, plugin.error)
        else:
            if isinstance(cls, type) and issubclass(cls, Module):
                plugin.cls = cls
            else:
                plugin.error = f"{ep.value} is not a subclass of agent.module.Module"
        found[ep.name] = plugin
    return found
