"""Registers: the ways a scene is unfolded (seed 004 §11.2.3)."""

from __future__ import annotations

from typing import Literal

#: logical, poetic, emotional, archetypal, bodily.
Register = Literal["logical", "poetic", "emotional", "archetypal", "bodily"]
REGISTERS: tuple[str, ...] = ("logical", "poetic", "emotional", "archetypal", "bodily")
