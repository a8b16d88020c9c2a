"""Faces and people, with the detectors that ship inside OpenCV itself.

Faces: the Viola–Jones Haar cascade ``haarcascade_frontalface_default.xml`` from
``cv2.data.haarcascades``. People: OpenCV's HOG descriptor with its bundled default people
detector (Dalal & Triggs, 64×128 window). Both come with ``opencv-python(-headless)`` 4.x;
OpenCV 5 moved them out of the main package, and then :func:`detectors_ready` says so and
the counts stay ``None`` (not measured) rather than a made-up 0.

Each detector is loaded once and used under a lock (OpenCV objects are not documented
as safe to share between threads).
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

import cv2
import numpy as np

FACE_CASCADE = "haarcascade_frontalface_default.xml"


def face_cascade_path() -> Path | None:
    """Where the bundled frontal-face cascade is, or None when this OpenCV has none."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None or not hasattr(cv2, "CascadeClassifier"):
        return None
    path = Path(folder) / FACE_CASCADE
    return path if path.is_file() else None


def detectors_ready() -> dict[str, str | None]:
    """``{"faces": path or None, "people": "HOG default people detector" or None}``."""
    face = face_cascade_path()
    return {
        "faces": str(face) if face else None,
        "people": "HOGDescriptor_getDefaultPeopleDetector" if hasattr(cv2, "HOGDescriptor") else None,
    }


class _Locked:
    def __init__(self, detector: object) -> None:
        self.detector = detector
        self.lock = threading.Lock()


@cache
def _faces() -> _Locked | None:
    path = face_cascade_path()
    if path is None:
        return None
    cascade = cv2.CascadeClassifier(str(path))
    return None if cascade.empty() else _Locked(cascade)


@cache
def _people() -> _Locked | None:
    if not hasattr(cv2, "HOGDescriptor"):
        return None
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return _Locked(hog)


def _shrink(grey: np.ndarray, longer_px: int) -> np.ndarray:
    h, w = grey.shape[:2]
    scale = min(1.0, longer_px / max(h, w))
    if scale >= 1.0:
        return grey
    return cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def count_faces(grey: np.ndarray, longer_px: int) -> int | None:
    """Frontal faces in an 8-bit grey picture searched at ``longer_px`` (longer side), faces
    at least 1/10 of the shorter side (and 20 px); None when the cascade is not available.
    No histogram equalisation: on skimage's ``moon`` it makes a crater a face."""
    found = _faces()
    if found is None:
        return None
    small = _shrink(grey, longer_px)
    least = max(20, min(small.shape[:2]) // 10)
    with found.lock:
        boxes = found.detector.detectMultiScale(small, scaleFactor=1.1, minNeighbors=5, minSize=(least, least))
    return len(boxes)


def count_people(grey: np.ndarray, longer_px: int) -> int | None:
    """Upright people in an 8-bit grey picture searched at ``longer_px`` (longer side, at
    least 128 px tall people after shrinking); None when the HOG detector is not available."""
    found = _people()
    if found is None:
        return None
    small = _shrink(grey, longer_px)
    if small.shape[0] < 128 or small.shape[1] < 64:
        return 0
    with found.lock:
        boxes, weights = found.detector.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return int(np.count_nonzero(np.asarray(weights).ravel() > 0.5)) if len(boxes) else 0
