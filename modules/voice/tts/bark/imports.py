"""Importing Bark without torchaudio.

``encodec`` (which ``bark`` imports) runs ``import torchaudio`` at module level in
``encodec/utils.py`` but uses it only in functions Bark never calls (``convert_audio``,
``save_audio``). torchaudio cannot load beside the CPU build of torch (MODELS.md), so
``import bark`` would fail. While Bark imports, a placeholder stands in for torchaudio
when the real one cannot load; any use of it raises a clear error, and it leaves
``sys.modules`` afterwards so a real torchaudio, if one appears, is untouched.
"""

from __future__ import annotations

import importlib
import sys
import types
from functools import cache

from agent.errors import MachineError, ScenevoiceError


class TorchaudioUnavailable(ScenevoiceError, AttributeError):
    """Something used torchaudio, which cannot load here (an AttributeError so that
    probes like ``hasattr(module, "__file__")`` keep working). Reaching it is a bug:
    scenevoice never calls the parts of Bark or EnCodec that need torchaudio."""

    reason = "internal"


class _Placeholder(types.ModuleType):
    def __getattr__(self, name: str):
        raise TorchaudioUnavailable(
            f"torchaudio.{name}: torchaudio cannot load beside this torch build, and scenevoice never needs it"
        )


class BarkMissing(MachineError):
    """The bark / encodec packages are not installed. A ``RuntimeError`` (through
    :class:`~agent.errors.MachineError`); reason ``model.missing``."""

    reason = "model.missing"


@cache
def bark_generation():
    """``bark.generation``, imported once without needing torchaudio.

    Raises:
        BarkMissing: bark or encodec is not installed.
    """
    try:
        import funcy  # noqa: F401  (Bark's other imports first: they probe for torchaudio
        import huggingface_hub  # noqa: F401  themselves and must see the real state)
        from transformers import BertTokenizer  # noqa: F401
    except ImportError as exc:
        raise BarkMissing(f"Bark needs {exc.name}: pip install -e . (see scripts/setup.sh)") from None
    placeholder = False
    try:
        importlib.import_module("torchaudio")
    except Exception:  # absent, or its OSError: libc10_cuda.so beside the CPU torch
        sys.modules["torchaudio"] = _Placeholder("torchaudio")
        placeholder = True
    try:
        generation = importlib.import_module("bark.generation")
        importlib.import_module("bark.model_fine")
    except ImportError as exc:
        raise BarkMissing(f"Bark is not installed ({exc}); scripts/setup.sh installs bark and encodec") from None
    finally:
        if placeholder:
            sys.modules.pop("torchaudio", None)
    return generation
