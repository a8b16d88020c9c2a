"""Pictures and video files → sight scenes (the ``look.file`` request).

A picture gives one ``vision/sight`` scene; a video gives one per frame that passes the
:class:`~modules.vision.gate.ChangeGate` (on change or at the configured rate, never every
frame). A missing file is ``input.missing``; a file that OpenCV decodes neither as a
picture nor as a video is ``input.unreadable``, naming the file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from agent.bus import Trace
from agent.scene import Scene
from agent.sight import Sight
from modules.vision.errors import PictureMissing, PictureUnreadable
from modules.vision.frame import analyse_frame, as_bgr
from modules.vision.gate import ChangeGate
from modules.vision.lexemes import vision_table
from modules.vision.options import VisionOptions

#: frames per second assumed when a video does not say.
DEFAULT_FPS = 25.0


def sight_scene(trace: Trace, sight: Sight, source: str) -> Scene:
    """The ``vision/sight`` scene of one measured picture, child of the trace's cause:
    ``sight``, ``color`` (the most dominant colour), lexemes, core, mode and register from
    ``assets/vision.toml``; ``t_start`` is a video frame's time."""
    lexemes, core, mode, register = vision_table().describe(sight)
    return trace.derive(
        channel="vision",
        kind="sight",
        source=source,
        sight=sight,
        color=sight.dominant_colors[0] if sight.dominant_colors else None,
        lexemes=lexemes,
        core=core,
        mode=mode,
        register=register,
        t_start=sight.t_s,
        t_end=sight.t_s,
    )


def read_picture(path: str) -> np.ndarray | None:
    """The picture at ``path`` as 8-bit BGR (EXIF orientation applied), or None when
    OpenCV cannot decode it as a still picture."""
    if not cv2.haveImageReader(path):
        return None
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    return None if image is None or image.size == 0 else as_bgr(image)


def look_file(path: str, o: VisionOptions, trace: Trace) -> list[Scene]:
    """The sight scenes of a picture or video file.

    Raises:
        PictureMissing: no such file.
        PictureUnreadable: neither a picture nor a video OpenCV can decode.
    """
    if not Path(path).is_file():
        raise PictureMissing(f"{path}: no such file", subject=path)
    image = read_picture(path)
    if image is not None:
        trace.mark("decode")
        sight = analyse_frame(image, o)
        trace.mark("analyse")
        return [sight_scene(trace, sight, path)]
    return look_video(path, o, trace)


def look_video(path: str, o: VisionOptions, trace: Trace) -> list[Scene]:
    """The sight scenes of a video file, one per frame that passes the change gate.

    Raises:
        PictureUnreadable: OpenCV cannot open the file or decode a single frame of it.
    """
    capture = cv2.VideoCapture(path)
    try:
        if not capture.isOpened():
            raise PictureUnreadable(f"{path}: not a picture or video OpenCV can read", subject=path)
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and np.isfinite(fps) and fps > 0 else DEFAULT_FPS
        gate = ChangeGate(o.change_threshold, o.min_interval_s, o.max_interval_s)
        scenes: list[Scene] = []
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            t_s = index / fps
            index += 1
            passed = gate.offer(frame, t_s)
            if passed is not None:
                sight = analyse_frame(as_bgr(frame), o, t_s=round(t_s, 3), motion=passed.motion)
                scenes.append(sight_scene(trace, sight, path))
        if index == 0:
            raise PictureUnreadable(f"{path}: OpenCV opened it but decoded no frame", subject=path)
        trace.mark("analyse")
        return scenes
    finally:
        capture.release()
