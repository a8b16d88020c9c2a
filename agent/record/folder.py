"""A session folder's place and its ``session.json`` (the format: ``agent/record/__init__.py``)."""

from __future__ import annotations

import json
import platform
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from agent.errors import ScenevoiceError
from agent.files import write_text_atomically
from agent.record import AUDIO_DIR, SESSION_FILE
from agent.record.options import RecordOptions

FORMAT = "scenevoice-recording"
FORMAT_VERSION = 1
#: the packages whose versions a session notes (what made its scenes).
NOTED_PACKAGES = (
    "scenevoice",
    "numpy",
    "torch",
    "openai-whisper",
    "faster-whisper",
    "piper-tts",
    "silero-vad",
    "praat-parselmouth",
    "pywebrtc-audio",
    "sounddevice",
)


class FolderError(ScenevoiceError, OSError):
    """The session folder cannot be made (a file in the way, no permission, a full disk)."""

    reason = "input.output-path"


def versions() -> dict[str, str]:
    """Python's and each noted package's version (those not installed are left out)."""
    found = {"python": platform.python_version()}
    for name in NOTED_PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def new_session_folder(root: str | Path, started_unix_s: float | None = None) -> Path:
    """Make ``root/<YYYYMMDD-HHMMSS>`` (UTC; ``-2``, ``-3``… when taken), ``root`` too if need be.

    Raises:
        FolderError: it cannot be made; the message says where and why.
    """
    moment = datetime.fromtimestamp(time.time() if started_unix_s is None else started_unix_s, UTC)
    stem = moment.strftime("%Y%m%d-%H%M%S")
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):
            folder = Path(root) / (stem if n == 1 else f"{stem}-{n}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            (folder / AUDIO_DIR).mkdir()
            return folder
    except OSError as exc:
        raise FolderError(f"cannot make a session folder in {root}: {exc.strerror or exc}", subject=str(root)) from None
    raise FolderError(f"{root} already holds 999 sessions begun at {stem}", subject=str(root))


class SessionFile:
    """``session.json``: written at the start and replaced whole when a device becomes known.

    Args:
        folder: the session folder.
        command: what is recording (``record``, ``talk``, ``serve``, ``analyze``).
        config: the merged config (plain TOML data).
        options: the ``[record]`` options.
        started_unix_s: the session clock's zero, Unix time.
    """

    def __init__(
        self, folder: Path, command: str, config: dict[str, Any], options: RecordOptions, started_unix_s: float
    ) -> None:
        self.path = folder / SESSION_FILE
        self.data: dict[str, Any] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "command": command,
            "started": datetime.fromtimestamp(started_unix_s, UTC).isoformat(timespec="milliseconds"),
            "started_unix_s": round(started_unix_s, 6),
            "record": options.to_dict(),
            "devices": {"input": None, "output": None},
            "versions": versions(),
            "config": config,
        }

    def write(self) -> None:
        """Raises: OSError (a full disk): the file is then as it was."""
        write_text_atomically(self.path, json.dumps(self.data, indent=1, ensure_ascii=False, default=str) + "\n")

    def note_device(self, side: str, name: str) -> bool:
        """Note the ``input`` or ``output`` device; True when that changed something."""
        if self.data["devices"].get(side) == name:
            return False
        self.data["devices"][side] = name
        return True
