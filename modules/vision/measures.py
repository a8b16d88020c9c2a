"""Whole-picture measures: brightness, contrast, colourfulness, warmth, edge density.

Each takes the picture already shrunk to ``analysis_px`` (see :mod:`modules.vision.frame`)
and returns a plain float; units and ranges are those of :class:`agent.sight.Sight`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Canny's hysteresis thresholds on 8-bit grey (OpenCV's tutorial values), after a 3×3 blur.
CANNY_LOW, CANNY_HIGH = 100, 200


def brightness_contrast(lab: np.ndarray) -> tuple[float, float]:
    """(mean L*/100, standard deviation of L*/100) of a CIELAB picture (L* 0..100)."""
    mean, std = cv2.meanStdDev(lab[..., 0])
    return float(mean[0, 0]) / 100.0, float(std[0, 0]) / 100.0


def colorfulness(bgr: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003), "Measuring colourfulness in natural images", metric M3:
    ``sqrt(σ_rg² + σ_yb²) + 0.3·sqrt(μ_rg² + μ_yb²)`` with ``rg = R − G`` and
    ``yb = (R + G)/2 − B`` on 8-bit sRGB values (0 = grey; ≈33 moderately, ≈59 quite,
    ≈109 extremely colourful)."""
    b, g, r = cv2.split(bgr.astype(np.float32))
    rg = r - g
    yb = 0.5 * (r + g) - b
    m_rg, s_rg = cv2.meanStdDev(rg)
    m_yb, s_yb = cv2.meanStdDev(yb)
    return math.hypot(s_rg[0, 0], s_yb[0, 0]) + 0.3 * math.hypot(m_rg[0, 0], m_yb[0, 0])


def warmth(lab: np.ndarray) -> float:
    """Mean ``(a* + b*)/√2``: each pixel's chroma projected on CIELAB's hue-45° axis, which
    runs from sky blue/cyan (cold, < 0) through grey (0) to orange (warm, > 0). Reds and
    yellows count half-warm, greens and magentas neutral. CIELAB units."""
    return (float(lab[..., 1].mean()) + float(lab[..., 2].mean())) / math.sqrt(2.0)


def edge_density(grey: np.ndarray) -> float:
    """The share of pixels on a Canny edge (thresholds :data:`CANNY_LOW`/``HIGH`` on 8-bit
    grey, after a 3×3 Gaussian blur), 0..1."""
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), CANNY_LOW, CANNY_HIGH)
    return float(np.count_nonzero(edges)) / edges.size
