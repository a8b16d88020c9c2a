"""Bark's models: the real checkpoints, loaded safely, or random-weight models of the same
architecture for offline tests and benchmarks.

Real weights live where bark keeps them (``$XDG_CACHE_HOME/suno/bark_v0``, read when
called, not at import): ``text.pt``, ``coarse.pt``, ``fine.pt`` (small) or ``text_2.pt``…
(full), the ``bert-base-multilingual-cased`` tokenizer in the Hugging Face cache, and
EnCodec 24 kHz in torch.hub's cache. Three traps are guarded (MODELS.md):

* checkpoints hold numpy scalars, so ``torch.load(weights_only=True)`` refuses them; they
  load with an explicit allow-list of those numpy types, never with blind unpickling;
* offline, ``BertTokenizer.from_pretrained`` can quietly return a 5-token vocabulary that
  turns every word into ``[UNK]``: a vocabulary that small is refused loudly;
* importing bark needs torchaudio (``tts.bark.imports``).

:func:`random_models` builds models with Bark's real vocabularies and block size and a
chosen width (``tiny`` for tests, ``small``/``full`` for timing). Their speech is noise:
they exist to run the real code path end to end where no weights can be had.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from agent.errors import MachineError
from modules.voice.tts.bark.imports import bark_generation

#: (layers, heads, width) of each size; "tiny" exists only as random weights.
ARCHITECTURES = {"tiny": (2, 2, 64), "small": (12, 12, 768), "full": (24, 16, 1024)}
#: input and output vocabulary of each model (token ids are constants in Bark's code).
VOCABULARIES = {"text": (129_600, 10_048), "coarse": (12_096, 12_096), "fine": (1_056, 1_056)}
CHECKPOINTS = {
    "small": {"text": "text.pt", "coarse": "coarse.pt", "fine": "fine.pt"},
    "full": {"text": "text_2.pt", "coarse": "coarse_2.pt", "fine": "fine_2.pt"},
}
HUB_REPO = "suno/bark"
TOKENIZER = "bert-base-multilingual-cased"
#: bert-base-multilingual-cased has 119 547 entries; a fallback has 5.
MIN_TOKENIZER_VOCAB = 100_000
ENCODEC_FILE = "encodec_24khz-d7cc33bc.th"


class BarkWeightsMissing(MachineError):
    """Bark's real weights are not here; the message lists what is missing and the fix.
    A ``RuntimeError`` (through :class:`~agent.errors.MachineError`); reason ``model.missing``."""

    reason = "model.missing"


@dataclass
class BarkModels:
    """The four models and the tokenizer of one Bark pipeline."""

    text: Any
    coarse: Any
    fine: Any
    codec: Any
    tokenizer: Any
    size: str
    random_weights: bool


def bark_dir() -> Path:
    """Where bark keeps its checkpoints: ``$XDG_CACHE_HOME/suno/bark_v0``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "suno" / "bark_v0"


def _numpy_allow_list() -> list:
    """The numpy objects Bark's checkpoints pickle (a float64 validation loss), under the
    names numpy 1.x wrote them with."""
    scalar = np._core.multiarray.scalar if hasattr(np, "_core") else np.core.multiarray.scalar
    dtypes = [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32)]
    return [(scalar, "numpy.core.multiarray.scalar"), scalar, np.dtype, *dtypes]


def load_checkpoint(path: Path) -> dict:
    """A Bark checkpoint, unpickled with ``weights_only=True`` and the numpy allow-list.

    Raises:
        BarkWeightsMissing: the file is absent.
        pickle.UnpicklingError: the file holds anything outside the allow-list.
    """
    import torch

    if not Path(path).is_file():
        raise BarkWeightsMissing(f"Bark checkpoint {path} is missing")
    with torch.serialization.safe_globals(_numpy_allow_list()):
        return torch.load(path, map_location="cpu", weights_only=True)


def _model_classes(kind: str):
    bark_generation()
    from bark.model import GPT, GPTConfig
    from bark.model_fine import FineGPT, FineGPTConfig

    return (FineGPTConfig, FineGPT) if kind == "fine" else (GPTConfig, GPT)


def model_from_checkpoint(kind: str, checkpoint: dict):
    """Build ``kind`` (text, coarse, fine) from a loaded checkpoint, as bark does.

    Raises:
        ValueError: the state dict has missing or unexpected tensors.
    """
    config_cls, model_cls = _model_classes(kind)
    args = dict(checkpoint["model_args"])
    if "input_vocab_size" not in args:
        args["input_vocab_size"] = args["output_vocab_size"] = args.pop("vocab_size")
    model = model_cls(config_cls(**args))
    state = {k.removeprefix("_orig_mod."): v for k, v in checkpoint["model"].items()}
    wanted = {k for k in model.state_dict() if not k.endswith(".attn.bias")}
    given = {k for k in state if not k.endswith(".attn.bias")}
    if wanted != given:
        raise ValueError(
            f"Bark {kind} checkpoint: missing {sorted(wanted - given)[:3]}, unexpected {sorted(given - wanted)[:3]}"
        )
    model.load_state_dict(state, strict=False)
    return model.eval()


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face hub's host resolves and accepts a connection within
    ``timeout_s`` seconds: offline, this answers at once where the hub client would retry
    for half a minute."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def load_tokenizer(allow_download: bool = False):
    """Bark's text tokenizer from the Hugging Face cache, fetched there first when
    ``allow_download`` and the hub is reachable.

    Raises:
        BarkWeightsMissing: not to be had, or the library fell back to a tiny vocabulary.
    """
    from transformers import BertTokenizer

    local_only = not (allow_download and hub_reachable())
    try:
        tokenizer = BertTokenizer.from_pretrained(TOKENIZER, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        raise BarkWeightsMissing(
            f"Bark's tokenizer {TOKENIZER} is not in the Hugging Face cache "
            f"({type(exc).__name__}); run once with network"
        ) from None
    if len(tokenizer) < MIN_TOKENIZER_VOCAB:
        raise BarkWeightsMissing(
            f"Bark's tokenizer {TOKENIZER} loaded with a {len(tokenizer)}-token "
            "vocabulary: every word would become [UNK] (an offline fallback); "
            "run once with network to cache the real one"
        )
    return tokenizer


def encodec_path() -> Path:
    """Where torch.hub keeps EnCodec's weights: ``torch.hub.get_dir()/checkpoints`` (which
    honours ``torch.hub.set_dir``, ``$TORCH_HOME`` and ``$XDG_CACHE_HOME``), read when called."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / ENCODEC_FILE


def load_codec():
    """EnCodec 24 kHz at 6 kbps from torch.hub's cache (downloaded there when online).

    Raises:
        BarkWeightsMissing: not cached and the download failed.
    """
    bark_generation()
    from encodec import EncodecModel

    try:
        codec = EncodecModel.encodec_model_24khz(pretrained=True)
    except OSError as exc:  # URLError: no network, no cached file
        raise BarkWeightsMissing(
            f"EnCodec 24 kHz weights are not at {encodec_path()} and could not be "
            f"downloaded ({type(exc).__name__}); run once with network"
        ) from None
    codec.set_target_bandwidth(6.0)
    return codec.eval()


def weights_status(size: str) -> list[tuple[str, Path, bool]]:
    """(what, where, present) for each file Bark ``size`` needs, without loading anything."""
    rows = [
        (f"{kind} model", bark_dir() / name, (bark_dir() / name).is_file()) for kind, name in CHECKPOINTS[size].items()
    ]
    rows.append(("EnCodec 24 kHz", encodec_path(), encodec_path().is_file()))
    return rows


def load_models(size: str = "small", allow_download: bool = True) -> BarkModels:
    """Bark's real models. Missing checkpoints are downloaded from the hub when
    ``allow_download`` and the network allow.

    Raises:
        BarkWeightsMissing: one message naming every missing file and how to get it.
    """
    if size not in CHECKPOINTS:
        raise ValueError(f"Bark size {size!r}: choose small or full")
    missing = [(what, path) for what, path, present in weights_status(size) if not present and "model" in what]
    if missing and allow_download:
        from huggingface_hub import hf_hub_download

        if not hub_reachable():
            raise BarkWeightsMissing(
                f"Bark {size} weights are missing "
                f"({', '.join(str(p) for _, p in missing)}) and the hub that has "
                f"them ({HUB_REPO}) cannot be reached. Run once with network, or "
                "use the piper engine."
            )
        for _what, path in missing:
            try:
                hf_hub_download(repo_id=HUB_REPO, filename=path.name, local_dir=bark_dir())
            except Exception as exc:  # no network (LocalEntryNotFoundError, ConnectError…)
                names = ", ".join(str(p) for _, p in missing)
                raise BarkWeightsMissing(
                    f"Bark {size} weights are missing ({names}) and could not be "
                    f"downloaded from {HUB_REPO} ({type(exc).__name__}). Run once "
                    "with network, or use the piper engine."
                ) from None
    elif missing:
        raise BarkWeightsMissing(f"Bark {size} weights are missing: {', '.join(str(p) for _, p in missing)}")
    models = {
        kind: model_from_checkpoint(kind, load_checkpoint(bark_dir() / name))
        for kind, name in CHECKPOINTS[size].items()
    }
    return BarkModels(
        models["text"],
        models["coarse"],
        models["fine"],
        load_codec(),
        load_tokenizer(allow_download),
        size,
        random_weights=False,
    )


class Tokenizer:
    """A stand-in for Bark's BERT tokenizer with random models: one id per character,
    below the text vocabulary's 119 552 ids (what a random model can read)."""

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) % 119_000 for c in text]


def random_models(size: str = "tiny", seed: int = 0) -> BarkModels:
    """Models of Bark's real structure (vocabularies, block size 1024, no bias) with random
    weights, ``size`` layers/heads/width, and EnCodec with random codebooks (they start at
    zero, which would decode to silence). For tests and benchmarks only."""
    import torch

    layers, heads, width = ARCHITECTURES[size]
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        built = {}
        for kind, (vocab_in, vocab_out) in VOCABULARIES.items():
            config_cls, model_cls = _model_classes(kind)
            extra = {"n_codes_total": 8, "n_codes_given": 1} if kind == "fine" else {}
            built[kind] = model_cls(
                config_cls(
                    block_size=1024,
                    n_layer=layers,
                    n_head=heads,
                    n_embd=width,
                    dropout=0.0,
                    bias=False,
                    input_vocab_size=vocab_in,
                    output_vocab_size=vocab_out,
                    **extra,
                )
            ).eval()
        from encodec import EncodecModel

        codec = EncodecModel.encodec_model_24khz(pretrained=False)
        codec.set_target_bandwidth(6.0)
        for layer in codec.quantizer.vq.layers:
            layer._codebook.embed.data.normal_()
    finally:
        torch.random.set_rng_state(generator_state)
    return BarkModels(
        built["text"], built["coarse"], built["fine"], codec.eval(), Tokenizer(), size, random_weights=True
    )


def lowered(models: BarkModels, precision: str) -> BarkModels:
    """The same models in a lower (lossy) precision: see ``tts.bark.fast.lower_precision``."""
    from modules.voice.tts.bark.fast import lower_precision

    return replace(
        models,
        text=lower_precision(models.text, precision),
        coarse=lower_precision(models.coarse, precision),
        fine=lower_precision(models.fine, precision),
    )
