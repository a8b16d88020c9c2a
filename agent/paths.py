"""Where the project keeps things: bundled assets, the model cache and the user's data."""

from __future__ import annotations

import os
from pathlib import Path

#: the checkout's root (the project runs from its checkout: ``pip install -e .``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS = PROJECT_ROOT / "assets"


def xdg_cache_home() -> Path:
    """The user's cache root: ``$XDG_CACHE_HOME`` when set and not empty, else
    ``~/.cache`` (the XDG Base Directory rule; other programs' caches live under it too)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def cache_dir() -> Path:
    """Converted models and other derived files: ``$SCENEVOICE_CACHE``, else
    ``$XDG_CACHE_HOME/scenevoice``, else ``~/.cache/scenevoice``."""
    if os.environ.get("SCENEVOICE_CACHE"):
        return Path(os.environ["SCENEVOICE_CACHE"])
    return xdg_cache_home() / "scenevoice"


def data_dir() -> Path:
    """The user's data root for this project (what the agent remembers):
    ``$XDG_DATA_HOME/scenevoice`` when set and not empty, else ``~/.local/share/scenevoice``
    (the XDG Base Directory rule)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "scenevoice"
