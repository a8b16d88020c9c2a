"""``[modules.vision]``: the vision module's options, parsed and checked once.

``assets/config.toml`` documents each option. A wrong name or type is refused by
:func:`agent.codec.from_dict` naming the option; a value out of range is refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.module import ModuleConfigError, parse_options


@dataclass
class VisionOptions:
    """``[modules.vision]`` in the config. Seconds end in ``_s``, pixels in ``_px``.

    Attributes:
        camera: ``""`` (no camera), a camera index (``"0"``) or a device path
            (``"/dev/video0"``), opened with OpenCV's ``VideoCapture`` on start.
        analysis_px: frames are downscaled so their longer side is at most this many pixels
            before colour, brightness, contrast, colourfulness, warmth and edges are measured.
        kmeans_px: the longer side of the (smaller) copy whose pixels k-means clusters.
        colors: how many dominant colours (k of k-means), 1..12.
        faces: look for frontal faces (OpenCV's bundled Haar cascade).
        face_px: the longer side of the copy faces are sought in (smaller is faster, misses
            small faces).
        people: look for upright people (OpenCV's HOG people detector; ≈15–30 ms more per frame).
        people_px: the longer side of the copy people are sought in.
        change_threshold: a video or camera frame gives a scene when its mean absolute
            grey-level difference from the last scene's frame reaches this, 0..1.
        min_interval_s: at least this long between two scenes of one video or camera.
        max_interval_s: a scene at least this often even when nothing changes (0 = only on
            change).
        camera_fps: the most frames per second read from the camera.
    """

    camera: str = ""
    analysis_px: int = 320
    kmeans_px: int = 64
    colors: int = 5
    faces: bool = True
    face_px: int = 320
    people: bool = False
    people_px: int = 400
    change_threshold: float = 0.06
    min_interval_s: float = 0.5
    max_interval_s: float = 10.0
    camera_fps: float = 10.0

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> VisionOptions:
        """The options of ``[modules.vision]`` (without ``enabled``).

        Raises:
            ModuleConfigError: an unknown option, a wrong type or a value out of range;
                the message names the option.
        """
        parsed = parse_options(cls, options, "vision")
        for name in ("analysis_px", "kmeans_px", "face_px", "people_px"):
            if not 16 <= getattr(parsed, name) <= 4096:
                raise ModuleConfigError(f"modules.vision.{name} = {getattr(parsed, name)}: must be within 16..4096")
        if not 1 <= parsed.colors <= 12:
            raise ModuleConfigError(f"modules.vision.colors = {parsed.colors}: must be within 1..12")
        if not 0.0 < parsed.change_threshold <= 1.0:
            raise ModuleConfigError(
                f"modules.vision.change_threshold = {parsed.change_threshold}: must be within (0, 1]"
            )
        if parsed.min_interval_s < 0 or parsed.max_interval_s < 0:
            raise ModuleConfigError("modules.vision.min_interval_s and max_interval_s must not be negative")
        if parsed.max_interval_s and parsed.max_interval_s < parsed.min_interval_s:
            raise ModuleConfigError(
                f"modules.vision.max_interval_s = {parsed.max_interval_s} is below min_interval_s = "
                f"{parsed.min_interval_s}; raise it or set 0 (only on change)"
            )
        if not parsed.camera_fps > 0:
            raise ModuleConfigError(f"modules.vision.camera_fps = {parsed.camera_fps}: must be positive")
        return parsed
