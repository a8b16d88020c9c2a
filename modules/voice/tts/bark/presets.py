"""Bark's preset table (``assets/bark_presets.toml``): which voice preset and sampling
settings a plan gets from its language and register. Reading it needs neither torch nor
bark, so the module can name Bark's voice before loading anything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any

from agent.paths import ASSETS
from agent.voiceplan import VoicePlan

PRESETS_TOML = ASSETS / "bark_presets.toml"


@dataclass
class BarkSettings:
    """One plan's Bark settings: the history-prompt ``preset``, the semantic and waveform
    sampling temperatures, the end-of-sentence probability, and CAPITALS for emphasis."""

    preset: str
    text_temp: float
    waveform_temp: float
    min_eos_p: float
    emphasis: bool


@cache
def _table() -> dict[str, Any]:
    with open(PRESETS_TOML, "rb") as handle:
        return tomllib.load(handle)


def settings_for(plan: VoicePlan) -> BarkSettings:
    """The table's default row, overridden by the plan's language, then its register."""
    table = _table()
    row = dict(table["default"])
    if plan.language and plan.language in table.get("language", {}):
        row["preset"] = table["language"][plan.language]
    row.update(table.get("register", {}).get(plan.register or "", {}))
    return BarkSettings(**row)


def default_preset() -> str:
    """The preset of the table's ``[default]`` row (``v2/en_speaker_6``)."""
    return str(_table()["default"]["preset"])
