"""Dataclass ⇄ JSON-ready dict, validated from the type hints.

One codec serves every part of a scene (``Scene``, ``Sound``, ``VoicePlan``, ``Hop``), so
each part's file declares only its fields. Supported field types: ``str``, ``int``,
``float``, ``bool``, ``Literal[...]``, ``X | None``, ``list[X]`` and nested dataclasses.
A dataclass may define ``_check(self) -> None`` for rules that types cannot express; it
raises :class:`SchemaError` through :func:`fail`.

The same type hints drive :func:`private_copy`, the copy the scene bus hands each
subscriber: every list and every mutable dataclass inside is copied, immutable values
(strings, numbers, frozen dataclasses of immutable fields) are shared.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, Literal, TypeVar, Union

from agent.errors import SchemaError, fail

__all__ = ["SchemaError", "fail", "from_dict", "private_copy", "to_dict"]

T = TypeVar("T")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def to_dict(obj: Any) -> Any:
    """A dataclass (recursively) as plain JSON types. NumPy scalars become Python numbers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    return obj


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            fail(path, "must not be null")
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"{path}: unsupported union {tp}")
        return _decode(inner[0], value, path)
    if value is None:
        fail(path, "must not be null")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            fail(path, f"{_describe(value)} is not one of {', '.join(map(str, choices))}")
        return value
    if origin is list:
        if not isinstance(value, list):
            fail(path, f"expected a list, got {_describe(value)}")
        (item,) = typing.get_args(tp)
        return [_decode(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            fail(path, f"expected true or false, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, f"expected an integer, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(path, f"expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            fail(path, f"expected a finite number, got {value}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            fail(path, f"expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"{path}: unsupported field type {tp}")


def from_dict(cls: type[T], data: Any, path: str) -> T:
    """Build ``cls`` from a dict, checking every field against its type hint.

    Raises:
        SchemaError: naming the first offending field by its dotted path (e.g.
            ``scene.sound.f0_median_hz``): an unknown or missing field, a wrong type,
            a non-finite number, a value outside a ``Literal``, or a ``_check`` rule.
    """
    if not isinstance(data, dict):
        fail(path, f"expected an object, got {_describe(data)}")
    klass: Any = cls  # a dataclass, as every caller passes
    hints = _hints(klass)
    fields = {f.name: f for f in dataclasses.fields(klass)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        fail(f"{path}.{unknown[0]}", f"unknown field (known fields: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _decode(hints[name], data[name], f"{path}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            fail(f"{path}.{name}", "required field is missing")
    obj = cls(**kwargs)
    check = getattr(obj, "_check", None)
    if check is not None:
        check(path)
    return obj


# --- private copies ----------------------------------------------------------------------

Copier = Callable[[Any], Any]


def _copier(tp: Any) -> Copier | None:
    """How to copy a value of type ``tp`` so that no mutable part is shared; None when the
    value is immutable and can be shared as it is."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {tp}")
        part = _copier(inner[0])
        if part is None:
            return None
        return lambda v: None if v is None else part(v)
    if origin is list:
        (item,) = typing.get_args(tp)
        each = _copier(item)
        if each is None:
            return list.copy
        return lambda v: [each(x) for x in v]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _class_copier(tp)
    return None  # str, int, float, bool, Literal: immutable


_COPIERS: dict[type, Copier | None] = {}


def _class_copier(cls: type) -> Copier | None:
    """A function that copies an instance of dataclass ``cls`` privately (None for a frozen
    dataclass of immutable fields). Generated once per class, as ``dataclasses`` generates
    ``__init__``: a straight line of field copies is 4× faster than a loop over them."""
    if cls in _COPIERS:
        return _COPIERS[cls]
    hints = _hints(cls)
    found = {f.name: _copier(hints[f.name]) for f in dataclasses.fields(cls)}
    parts = {name: copy for name, copy in found.items() if copy is not None}
    if getattr(cls, "__dataclass_params__").frozen and not parts:  # noqa: B009 - not typed
        _COPIERS[cls] = None
        return None
    lines = ["def copy(obj):", "    state = obj.__dict__.copy()"]
    for name in parts:
        lines += [
            f"    value = state[{name!r}]",
            "    if value is not None:",
            f"        state[{name!r}] = copy_{name}(value)",
        ]
    lines += ["    twin = new(cls)", "    setattr(twin, '__dict__', state)", "    return twin"]
    namespace: dict[str, Any] = {
        "new": object.__new__,
        "cls": cls,
        "setattr": object.__setattr__,
        **{f"copy_{name}": copy for name, copy in parts.items()},
    }
    exec("\n".join(lines), namespace)
    copier: Copier = namespace["copy"]
    _COPIERS[cls] = copier
    return copier


def private_copy(obj: T) -> T:
    """A copy of dataclass ``obj`` that shares no mutable part with it: nested dataclasses
    and lists are copied (recursively, as the type hints declare them), immutable values
    (strings, numbers, frozen dataclasses) shared. Mutating the copy, its lists or its
    parts never changes ``obj``.

    ``__init__`` is not re-run (no new id or time stamp, no ``_check``): the copy is equal
    to ``obj``. Cost: see ``bench/bus_throughput.py``.
    """
    copy = _class_copier(type(obj))
    return obj if copy is None else copy(obj)
