"""The TOML config: which modules run and with what options.

Layers, later ones winning key by key: ``assets/config.toml`` (the defaults, documented
there), then a role's preset (``serve --role satellite|hub|sensor``: ``assets/roles/``),
then the user's file (``--config``, else ``$SCENEVOICE_CONFIG``, else
``./scenevoice.toml`` if present), then ``--set table.key=value`` overrides whose value
is TOML (``--set modules.voice.asr='"faster-whisper"'`` or, for strings, bare words:
``--set modules.voice.asr=faster-whisper``).
"""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent.codec import from_dict
from agent.errors import ScenevoiceError, SchemaError
from agent.paths import ASSETS

DEFAULT_CONFIG = ASSETS / "config.toml"
#: the roles a peer of several machines can take (``assets/roles/<role>.toml``).
ROLES = ("satellite", "hub", "sensor")
_TOP_LEVEL = {"bus", "modules", "record", "serve", "session"}


T = TypeVar("T")


class ConfigError(ScenevoiceError, ValueError):
    """The config is unreadable or wrong; the message names file, key and fix."""

    reason = "config.invalid"


@dataclass
class Config:
    """The merged config. ``data`` is the plain TOML tree; ``sources`` lists its files."""

    data: dict[str, Any]
    sources: list[Path]

    def modules(self) -> dict[str, dict[str, Any]]:
        return self.data.get("modules", {})

    def enabled(self, name: str) -> bool:
        return bool(self.modules().get(name, {}).get("enabled", False))

    def module_options(self, name: str) -> dict[str, Any]:
        """``[modules.<name>]`` without ``enabled``."""
        return {k: v for k, v in self.modules().get(name, {}).items() if k != "enabled"}

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name, {})


def parse_table(cls: type[T], table: dict[str, Any], name: str) -> T:
    """The config's top-level table ``[name]`` as the options dataclass ``cls``, every field
    checked against its type hint (:func:`agent.codec.from_dict`).

    Raises:
        ConfigError: an unknown key or a wrong type, named by its dotted path.
    """
    try:
        return from_dict(cls, dict(table), name)
    except SchemaError as exc:
        raise ConfigError(str(exc)) from None


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"modules.voice.asr=faster-whisper"`` → (["modules", "voice", "asr"], "faster-whisper").

    The value is read as TOML; if that fails it is taken as a plain string.

    Raises:
        ConfigError: no ``=``, or an empty key.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected table.key=value, e.g. modules.voice.asr=faster-whisper")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return [part.strip() for part in key.split(".")], value


def _validate(data: dict[str, Any], where: str) -> None:
    for key in data:
        if key not in _TOP_LEVEL:
            raise ConfigError(f"{where}: unknown table [{key}] (known: {', '.join(sorted(_TOP_LEVEL))})")
    modules = data.get("modules", {})
    if not isinstance(modules, dict):
        raise ConfigError(f"{where}: [modules] must be a table of module tables")
    for name, table in modules.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: modules.{name} must be a table, e.g. [modules.{name}]")
        if "enabled" in table and not isinstance(table["enabled"], bool):
            raise ConfigError(f"{where}: modules.{name}.enabled must be true or false, got {table['enabled']!r}")


def load_config(path: str | Path | None = None, overrides: Iterable[str] = (), role: str | None = None) -> Config:
    """Load and merge the config layers (see the module docstring); ``role``: one of
    :data:`ROLES`, whose preset lies between the defaults and the user's file.

    Raises:
        ConfigError: a file is missing or not TOML, a table is unknown, a value has the
            wrong type, or an override is malformed.
    """
    data = _read(DEFAULT_CONFIG)
    sources = [DEFAULT_CONFIG]
    if role is not None:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
        preset = ASSETS / "roles" / f"{role}.toml"
        data = _merge(data, _read(preset))
        sources.append(preset)
    user = path or os.environ.get("SCENEVOICE_CONFIG")
    if user is None and Path("scenevoice.toml").is_file():
        user = "scenevoice.toml"
    if user is not None:
        user_data = _read(Path(user))
        _validate(user_data, str(user))
        data = _merge(data, user_data)
        sources.append(Path(user))
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {key} is a value, not a table")
        node[keys[-1]] = value
    _validate(data, "config")
    return Config(data, sources)
