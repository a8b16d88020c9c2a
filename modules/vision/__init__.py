"""VisionModule: pictures, videos and a camera → vision scenes (colour, light, edges, motion, faces)."""

from modules.vision.module import VisionModule

__all__ = ["VisionModule"]
