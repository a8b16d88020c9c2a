"""Dominant colours: k-means in CIELAB, centres back to ``#RRGGBB``.

Clustering in CIELAB (D65) rather than RGB groups colours as people see them: equal
distances are roughly equal perceived differences (ΔE*ab). The picture is shrunk first
(``kmeans_px``): a few thousand pixels give the same centres as a million, far faster.
"""

from __future__ import annotations

import cv2
import numpy as np

#: k-means stops after this many iterations or when centres move less than this (ΔE).
_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
_ATTEMPTS = 2
_SEED = 12345


def lab_to_hex(lab: np.ndarray) -> list[str]:
    """CIELAB colours, shape (n, 3), L* 0..100 → sRGB ``#RRGGBB`` strings (clipped to gamut)."""
    bgr = cv2.cvtColor(np.asarray(lab, np.float32).reshape(1, -1, 3), cv2.COLOR_Lab2BGR).reshape(-1, 3)
    rgb = np.clip(np.rint(bgr[:, ::-1] * 255.0), 0, 255).astype(int)
    return [f"#{r:02X}{g:02X}{b:02X}" for r, g, b in rgb]


def hex_to_lab(color: str) -> np.ndarray:
    """``#RRGGBB`` → its CIELAB (L*, a*, b*), shape (3,)."""
    rgb = np.array([[[int(color[i : i + 2], 16) for i in (1, 3, 5)]]], np.float32) / 255.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).reshape(3)


def dominant_colors(lab: np.ndarray, k: int, kmeans_px: int) -> tuple[list[str], list[float]]:
    """The ``k`` dominant colours of a picture and their shares, most dominant first.

    Args:
        lab: the picture in CIELAB, float32, shape (h, w, 3), L* 0..100.
        k: clusters wanted; fewer come back when the picture has fewer distinct pixels.
        kmeans_px: the longer side the picture is shrunk to before clustering.

    Returns:
        (colours as ``#RRGGBB``, shares 0..1 summing to 1), sorted by share, descending.
    """
    h, w = lab.shape[:2]
    scale = min(1.0, kmeans_px / max(h, w))
    if scale < 1.0:
        lab = cv2.resize(lab, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    pixels = np.ascontiguousarray(lab.reshape(-1, 3), dtype=np.float32)
    k = max(1, min(k, len(np.unique(pixels.round(1), axis=0))))
    if k == 1:
        centres, shares = pixels.mean(axis=0, keepdims=True), np.array([1.0])
    else:
        cv2.setRNGSeed(_SEED)  # the same picture gives the same colours, run after run
        _, labels, centres = cv2.kmeans(pixels, k, None, _CRITERIA, _ATTEMPTS, cv2.KMEANS_PP_CENTERS)
        counts = np.bincount(labels.ravel(), minlength=k).astype(float)
        keep = counts > 0
        centres, shares = centres[keep], counts[keep] / counts.sum()
    order = np.argsort(-shares, kind="stable")
    return lab_to_hex(centres[order]), [round(float(s), 4) for s in shares[order]]
