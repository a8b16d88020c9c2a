"""A gesture recognised from samples, before it becomes a scene."""

from __future__ import annotations

from dataclasses import dataclass

from agent.touch import Touch


@dataclass
class Recognised:
    """One recognised gesture.

    Attributes:
        name: what the scene's ``gesture`` field says (``tap``, ``long press``,
            ``swipe left``, ``shake``, ``tilt forward``, or a sensor's own name).
        touch: the measured event (the scene's ``touch`` part).
        t_start, t_end: its first and last sample, seconds on the sender's clock.
    """

    name: str
    touch: Touch
    t_start: float
    t_end: float
