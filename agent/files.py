"""Files written whole or not at all: the one atomic-write helper of the project."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Have ``write`` write a hidden temporary file beside ``path``, then rename it over
    ``path`` in one step: a reader (or a crash, or a full disk) sees the old file or the
    whole new one, never half of it. The temporary file is removed when ``write`` fails.

    Args:
        path: the file to (re)place; its folder must exist.
        write: writes the complete content to the path it is given.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: from ``write`` or the rename (a full disk, a read-only folder); ``path``
            is then as it was.
    """
    path = Path(path)
    # A unique name (two processes writing the same file, a model cache, never share one),
    # created by ``write`` itself so the file gets the usual permissions, not mkstemp's 0600.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_text_atomically(path: str | Path, text: str) -> Path:
    """:func:`write_atomically` for UTF-8 text."""

    def write(partial: Path) -> None:
        partial.write_text(text, encoding="utf-8")

    return write_atomically(path, write)
