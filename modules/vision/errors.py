"""The vision module's errors, each with its reason from ``agent.errors.REASONS``."""

from __future__ import annotations

from agent.errors import InputError, MachineError


class PictureUnreadable(InputError):
    """A file that is not a picture or video OpenCV can decode (exit 2); names the file."""

    reason = "input.unreadable"


class PictureMissing(InputError):
    """A file named in a request that does not exist (exit 2)."""

    reason = "input.missing"


class CameraMissing(MachineError):
    """The configured camera cannot be opened, or stopped giving frames (exit 3)."""

    reason = "device.missing"
