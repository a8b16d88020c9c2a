"""A camera through OpenCV's ``VideoCapture``: opened only when configured.

``camera`` is a device index (``"0"``) or a device path (``"/dev/video0"``). A camera that
does not exist or cannot be opened is :class:`~modules.vision.errors.CameraMissing`
(``device.missing``, exit 3), never a crash.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from modules.vision.errors import CameraMissing


def _refuse(spec: str, why: str) -> CameraMissing:
    return CameraMissing(
        f'camera {spec!r}: {why}; connect it, name another in modules.vision.camera, or set it to "" to turn it off',
        subject=spec,
    )


class Camera:
    """An open camera. ``read()`` gives 8-bit BGR frames no faster than ``max_fps``.

    Raises:
        CameraMissing: on opening, when there is no such camera or it cannot be opened.
    """

    def __init__(self, spec: str, max_fps: float) -> None:
        self.spec = spec
        self.min_gap_s = 1.0 / max_fps
        self._last_s = 0.0
        if not spec.isdigit() and not Path(spec).exists():
            raise _refuse(spec, "no such device")
        self._capture = cv2.VideoCapture(int(spec) if spec.isdigit() else spec)
        if not self._capture.isOpened():
            self._capture.release()
            raise _refuse(spec, "no such camera, or it cannot be opened")

    def read(self) -> np.ndarray:
        """The next frame (blocks; sleeps to keep to ``max_fps``).

        Raises:
            CameraMissing: the camera stopped giving frames (unplugged, taken by another program).
        """
        wait_s = self._last_s + self.min_gap_s - time.monotonic()
        if wait_s > 0:
            time.sleep(wait_s)
        ok, frame = self._capture.read()
        self._last_s = time.monotonic()
        if not ok or frame is None:
            raise _refuse(self.spec, "it stopped giving frames")
        return frame

    def close(self) -> None:
        self._capture.release()
