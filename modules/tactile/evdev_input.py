"""Linux input devices (``/dev/input/eventN``) through the optional ``evdev`` package.

``evdev`` is imported only when a device is configured; without the package or the device
(or without permission to read it) :func:`open_device` raises :class:`DeviceMissing`
(reason ``device.missing``, exit code 3). :class:`EvdevTouchMapper` turns the kernel's
single-touch and multi-touch slot-0 events into :class:`TouchEvent` s; it needs no
``evdev`` (the event codes are the kernel's, from ``linux/input-event-codes.h``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agent.errors import MachineError
from modules.tactile.events import TouchEvent

# linux/input-event-codes.h
EV_SYN, EV_KEY, EV_ABS = 0x00, 0x01, 0x03
SYN_REPORT = 0
BTN_TOUCH = 0x14A
ABS_X, ABS_Y = 0x00, 0x01
ABS_MT_POSITION_X, ABS_MT_POSITION_Y = 0x35, 0x36


class DeviceMissing(MachineError):
    """The configured input device, or the ``evdev`` package to read it, is not here."""

    reason = "device.missing"


class EvdevTouchMapper:
    """Kernel input events → touch down/move/up, one touch (pointer 0).

    Feed ``(type, code, value, t_s)`` in order; a touch event comes out at each
    ``SYN_REPORT`` that closes a change (down, up, or a move while touching).
    """

    def __init__(self) -> None:
        self.x_px: float | None = None
        self.y_px: float | None = None
        self._touching = False
        self._phase: str | None = None
        self._moved = False

    def feed(self, type_: int, code: int, value: int, t_s: float) -> TouchEvent | None:
        """The touch event this kernel event completes, if any."""
        if type_ == EV_ABS and code in (ABS_X, ABS_MT_POSITION_X):
            self.x_px, self._moved = float(value), True
        elif type_ == EV_ABS and code in (ABS_Y, ABS_MT_POSITION_Y):
            self.y_px, self._moved = float(value), True
        elif type_ == EV_KEY and code == BTN_TOUCH:
            self._phase = "down" if value else "up"
        elif type_ == EV_SYN and code == SYN_REPORT:
            return self._report(t_s)
        return None

    def _report(self, t_s: float) -> TouchEvent | None:
        phase, moved = self._phase, self._moved
        self._phase, self._moved = None, False
        if self.x_px is None or self.y_px is None:
            return None
        if phase is None:
            if not (self._touching and moved):
                return None
            phase = "move"
        self._touching = phase != "up"
        return TouchEvent(type="touch", phase=phase, t_s=t_s, x_px=self.x_px, y_px=self.y_px)  # type: ignore[arg-type]


def open_device(path: str) -> Any:
    """The ``evdev.InputDevice`` at ``path``.

    Raises:
        DeviceMissing: ``evdev`` is not installed, or the device is absent or unreadable.
    """
    try:
        import evdev
    except ImportError:
        raise DeviceMissing(
            f"tactile device {path}: the evdev package is not installed (pip install evdev)", subject=path
        ) from None
    try:
        return evdev.InputDevice(path)
    except OSError as exc:
        raise DeviceMissing(f"tactile device {path} cannot be opened: {exc}", subject=path) from None


async def device_touches(device: Any) -> AsyncIterator[TouchEvent]:
    """The touch events of an opened ``evdev.InputDevice``, as they come."""
    mapper = EvdevTouchMapper()
    async for event in device.async_read_loop():
        found = mapper.feed(event.type, event.code, event.value, event.timestamp())
        if found is not None:
            yield found
