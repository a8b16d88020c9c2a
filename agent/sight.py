"""The sight part of a scene: what a picture or a frame of video shows, measured (VisionScene).

Every field is optional: a scene carries what was measured, and an absent measure is
``None``, never a made-up number. Units are in the names or stated per field. The vision
module (``modules/vision``) fills it in; its lexemes, core and mode come from these numbers
through ``assets/vision.toml``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from agent.codec import fail

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


@dataclass
class Sight:
    """What one picture or one frame of video shows.

    Attributes:
        width_px, height_px: the picture's size as decoded, pixels.
        t_s: for a frame of a video or a camera, its time in seconds from the start of the
            file (or of the camera's stream); None for a still picture.
        dominant_colors: the dominant colours as ``#RRGGBB`` (sRGB), most dominant first:
            k-means cluster centres in CIELAB (D65), converted back to sRGB.
        color_shares: the share of the picture's pixels in each colour's cluster, 0..1, in
            the same order as ``dominant_colors``; they sum to 1.
        brightness: mean CIELAB lightness L* / 100, 0 (black) .. 1 (white).
        contrast: RMS contrast: standard deviation of L* / 100, 0 (flat) .. 0.5 (half black,
            half white).
        colorfulness: Hasler & Süsstrunk (2003) colourfulness M on 8-bit sRGB,
            ``σ_rgyb + 0.3·μ_rgyb``; 0 for grey, ≈15 slightly, ≈33 moderately, ≈59 quite,
            ≈82 highly, ≥109 extremely colourful.
        warmth: mean projection of each pixel's (a*, b*) on the orange–sky-blue axis of
            CIELAB (hue 45°), ``(a* + b*) / √2``, CIELAB units: > 0 warm (red, orange,
            yellow), < 0 cold (blue, cyan), 0 neutral grey; roughly −60..+60 for photographs.
        edge_density: the share of pixels on a Canny edge, 0..1.
        motion: mean absolute grey-level difference between consecutive frames, 0..1
            (of full scale), averaged over the frames since the previous scene; None for a
            still picture or a video's first scene.
        faces: frontal faces found (OpenCV Haar cascade); None when no detector ran.
        people: upright people found (OpenCV HOG people detector); None when none ran.
    """

    width_px: int | None = None
    height_px: int | None = None
    t_s: float | None = None
    dominant_colors: list[str] = field(default_factory=list)
    color_shares: list[float] = field(default_factory=list)
    brightness: float | None = None
    contrast: float | None = None
    colorfulness: float | None = None
    warmth: float | None = None
    edge_density: float | None = None
    motion: float | None = None
    faces: int | None = None
    people: int | None = None

    def _check(self, path: str) -> None:
        for i, color in enumerate(self.dominant_colors):
            if not _HEX.match(color):
                fail(f"{path}.dominant_colors[{i}]", f"{color!r} must be #RRGGBB")
        if len(self.color_shares) != len(self.dominant_colors):
            fail(
                f"{path}.color_shares",
                f"{len(self.color_shares)} shares for {len(self.dominant_colors)} colours; give one share per colour",
            )
        for i, share in enumerate(self.color_shares):
            if not 0.0 <= share <= 1.0:
                fail(f"{path}.color_shares[{i}]", f"{share} must be within 0..1")
        if self.color_shares and not math.isclose(sum(self.color_shares), 1.0, abs_tol=0.01):
            fail(f"{path}.color_shares", f"shares sum to {sum(self.color_shares):.3f}, not 1")
        for name in ("brightness", "edge_density", "motion"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                fail(f"{path}.{name}", f"{value} must be within 0..1")
        for name in ("contrast", "colorfulness", "t_s"):
            value = getattr(self, name)
            if value is not None and value < 0.0:
                fail(f"{path}.{name}", f"{value} must not be negative")
        for name in ("width_px", "height_px", "faces", "people"):
            value = getattr(self, name)
            if value is not None and value < 0:
                fail(f"{path}.{name}", f"{value} must not be negative")
