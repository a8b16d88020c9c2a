"""Where the project keeps things: bundled assets and the model cache."""

from __future__ import annotations

import os
from pathlib import Path

#: the checkout's root (the project runs from its checkout: ``pip install -e .``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS = PROJECT_ROOT / "assets"


def cache_dir() -> Path:
    """Converted models and other derived files: ``$SCENEVOICE_CACHE``, else
    ``$XDG_CACHE_HOME/scenevoice``, else ``~/.cache/scenevoice``."""
    if os.environ.get("SCENEVOICE_CACHE"):
        return Path(os.environ["SCENEVOICE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scenevoice"
