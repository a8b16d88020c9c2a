"""The channel-module interface.

A module maps its modality to scenes and back. It declares which scenes it wants
(:meth:`Module.wants`), handles them one at a time (:meth:`Module.handle`), and
publishes new scenes with :meth:`Module.publish`. It never imports another module; it
learns of the others only through the scenes they publish.

Modules are found through the package entry-point group ``scenevoice.modules``; a new
module is one file (or folder) plus one line in its package's ``pyproject.toml``::

    [project.entry-points."scenevoice.modules"]
    mymodule = "mypackage.mymodule:MyModule"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from agent.codec import SchemaError, from_dict
from agent.errors import ScenevoiceError
from agent.scene import Scene

if TYPE_CHECKING:
    from agent.bus import Policy, SceneBus


T = TypeVar("T")


class ModuleConfigError(ScenevoiceError, ValueError):
    """A module's options in the config are wrong; the message names option and fix."""

    reason = "config.invalid"


@dataclass
class EngineStatus:
    """One engine a module can use, as ``run.py models`` reports it.

    Attributes:
        role: what it does (``asr``, ``tts``, ``vad``).
        engine: its name (``openai-whisper``, ``piper``).
        model: which weights (``tiny.en``, ``en_US-joe-medium``).
        default: True when the current config uses it.
        ready: True when it can run now, offline.
        where: the weights' path, or where they would be.
        detail: a sentence for people: what is missing and how to get it.
    """

    role: str
    engine: str
    model: str
    default: bool
    ready: bool
    where: str
    detail: str = ""


class Module:
    """Base class of channel modules. Subclasses set ``name`` and override a few methods.

    Options come from the config table ``[modules.<name>]`` (minus ``enabled``). Heavy
    resources (models, devices) are opened in :meth:`start` or lazily, never in
    ``__init__``, so listing modules stays cheap.
    """

    name: ClassVar[str] = "module"
    #: inbox size and backpressure policy for this module's subscription (see agent.bus).
    inbox_size: ClassVar[int] = 64
    policy: ClassVar[Policy] = "block"
    #: the request kinds this module serves (a front end asks whether anything here can
    #: listen, say, before it asks); ``wants`` still decides what reaches it.
    requests: ClassVar[tuple[str, ...]] = ()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})
        self.bus: SceneBus | None = None

    def wants(self, scene: Scene) -> bool:
        """True for the scenes this module handles. Called on the publisher's task: keep it cheap."""
        return False

    async def start(self, bus: SceneBus) -> None:
        """Called once before any scene arrives. Open resources here."""
        self.bus = bus

    async def handle(self, scene: Scene) -> None:
        """Handle one scene. May publish others. Exceptions are isolated by the bus."""

    async def stop(self) -> None:
        """Called once at shutdown. Cancel background tasks and release resources."""

    def status(self) -> dict[str, Any]:
        """What this module reports at ``GET /health`` beyond "running" (the peers a bridge
        knows, say); ``{}`` for nothing; ``"ok": False`` in it marks the agent degraded (a
        bridge without its broker). Called from the health server's thread: it reads state
        under the module's own locks and never awaits."""
        return {}

    async def publish(self, scene: Scene) -> None:
        """Put a scene on the bus under this module's name."""
        if self.bus is None:
            raise RuntimeError(f"module {self.name} published before start()")
        await self.bus.publish(scene, source=self.name)

    @classmethod
    def engines(cls, options: Mapping[str, Any]) -> list[EngineStatus]:
        """The engines this module would use with ``options``, and whether each is ready."""
        return []

    @classmethod
    def prepare(cls, options: Mapping[str, Any]) -> None:
        """One-time preparation of models for ``options`` (conversion, caching). Idempotent."""


def parse_options(cls: type[T], options: Mapping[str, Any], module: str) -> T:
    """``[modules.<module>]`` (without ``enabled``) as the options dataclass ``cls``, every
    field checked against its type hint (:func:`agent.codec.from_dict`).

    Raises:
        ModuleConfigError: an unknown option or a wrong type, named by its dotted path
            (``modules.voice.vad_treshold: unknown field``).
    """
    try:
        return from_dict(cls, dict(options), f"modules.{module}")
    except SchemaError as exc:
        raise ModuleConfigError(str(exc)) from None
