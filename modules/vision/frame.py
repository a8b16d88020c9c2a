"""One picture (or one frame of video) → its :class:`agent.sight.Sight`.

The frame is shrunk once so its longer side is ``analysis_px``; colour, brightness,
contrast, colourfulness, warmth and edges are measured on that copy, dominant colours on
a smaller one (``kmeans_px``), faces and people on grey copies of their own sizes. A
640×480 frame costs ≈10 ms with faces and without people (``bench/vision_frame.py``).
"""

from __future__ import annotations

import cv2
import numpy as np

from agent.sight import Sight
from modules.vision.colors import dominant_colors
from modules.vision.detect import count_faces, count_people
from modules.vision.measures import brightness_contrast, colorfulness, edge_density, warmth
from modules.vision.options import VisionOptions


def shrink(image: np.ndarray, longer_px: int) -> np.ndarray:
    """``image`` scaled (area interpolation) so its longer side is at most ``longer_px``."""
    h, w = image.shape[:2]
    scale = min(1.0, longer_px / max(h, w))
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """An 8-bit picture as 3-channel BGR: grey is repeated, alpha dropped; 16-bit scaled."""
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / max(1.0, float(np.iinfo(image.dtype).max)))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def analyse_frame(bgr: np.ndarray, o: VisionOptions, t_s: float | None = None, motion: float | None = None) -> Sight:
    """The measures of one 8-bit BGR picture, shape (h, w, 3).

    Args:
        bgr: the picture as OpenCV decodes it.
        o: the module's options (sizes, k, which detectors).
        t_s: the frame's time in its video (None for a still picture).
        motion: the frame-to-frame motion measured by the caller (None for a still picture).
    """
    h, w = bgr.shape[:2]
    small = shrink(bgr, o.analysis_px)
    lab = cv2.cvtColor(small.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_BGR2Lab)
    grey_small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    colors, shares = dominant_colors(lab, o.colors, o.kmeans_px)
    bright, contrast = brightness_contrast(lab)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if (o.faces or o.people) else grey_small
    return Sight(
        width_px=w,
        height_px=h,
        t_s=t_s,
        dominant_colors=colors,
        color_shares=shares,
        brightness=round(min(1.0, max(0.0, bright)), 4),
        contrast=round(contrast, 4),
        colorfulness=round(colorfulness(small), 2),
        warmth=round(warmth(lab), 2),
        edge_density=round(edge_density(grey_small), 4),
        motion=motion,
        faces=count_faces(grey, o.face_px) if o.faces else None,
        people=count_people(grey, o.people_px) if o.people else None,
    )
