"""CTranslate2 Whisper model → openai-whisper checkpoint.

The only real Whisper weights that install offline come as CTranslate2 folders
(``model.bin``, ``config.json``, ``tokenizer.json``). openai-whisper, the card's engine,
loads a ``{"dims": ..., "model_state_dict": ...}`` checkpoint. This file reads the
CTranslate2 binary layout (ctranslate2 ``specs/model_spec.py``, little-endian), renames
and splits the fused tensors, and writes the checkpoint once into a cache; later runs
load the cached file with ``torch.load(weights_only=True)``.

Layout of ``model.bin`` (binary version 6): u32 version, string spec name, u32 spec
revision, u32 variable count; per variable: string name, u8 rank, rank × u32 dims,
u8 dtype, u32 byte count, raw bytes; then u32 alias count and (alias, target) string
pairs. A string is a u16 length that counts a trailing NUL, the UTF-8 bytes, and the NUL.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from pathlib import Path

import numpy as np

from agent.errors import MachineError
from agent.files import write_atomically

#: Bumped whenever the conversion's output changes, so stale caches are rebuilt.
CONVERTER_VERSION = 1

_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class ConversionError(MachineError):
    """The CTranslate2 folder is missing, malformed, or not a Whisper model.

    Reason ``model.missing`` (exit 3), not ``internal``: the folder comes from a package
    installed on this machine, and a truncated, foreign or newer-format ``model.bin`` means
    the machine lacks weights this converter can use; the fix is to reinstall the package
    (the message says so), not to change the program. A ``RuntimeError`` as before."""

    reason = "model.missing"


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.offset, self.path = data, 0, path

    def take(self, n_bytes: int) -> bytes:
        if self.offset + n_bytes > len(self.data):
            raise ConversionError(
                f"{self.path}: truncated at byte {self.offset} (wanted {n_bytes} more); "
                "reinstall the package that carries the model"
            )
        chunk = self.data[self.offset : self.offset + n_bytes]
        self.offset += n_bytes
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        return self.take(self.u16())[:-1].decode("utf-8")


def read_ct2_variables(model_bin: Path) -> tuple[str, dict[str, np.ndarray]]:
    """Read every variable of a CTranslate2 ``model.bin``, aliases resolved.

    Returns:
        (spec name, {variable name: array}); arrays keep the file's dtype and shape.

    Raises:
        ConversionError: the file is missing, truncated, or of an unknown version/dtype.
    """
    model_bin = Path(model_bin)
    if not model_bin.is_file():
        raise ConversionError(f"{model_bin}: no such file")
    reader = _Reader(model_bin.read_bytes(), model_bin)
    version = reader.u32()
    if version != 6:
        raise ConversionError(f"{model_bin}: CTranslate2 binary version {version}, expected 6")
    spec = reader.string()
    reader.u32()  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(reader.u32()):
        name = reader.string()
        rank = reader.u8()
        dims = struct.unpack(f"<{rank}I", reader.take(4 * rank)) if rank else ()
        dtype_code = reader.u8()
        n_bytes = reader.u32()
        if dtype_code not in _DTYPES:
            raise ConversionError(f"{model_bin}: variable {name} has unsupported dtype {dtype_code}")
        raw = reader.take(n_bytes)
        variables[name] = np.frombuffer(raw, dtype=_DTYPES[dtype_code]).reshape(dims)
    for _ in range(reader.u32()):
        alias, target = reader.string(), reader.string()
        variables[alias] = variables[target]
    return spec, variables


def _count_layers(variables: dict[str, np.ndarray], stack: str) -> int:
    # "layer_norm" also starts with "layer_": only digits count.
    found = {int(m.group(1)) for k in variables if (m := re.match(rf"{stack}/layer_(\d+)/", k))}
    return len(found)


def ct2_to_openai_whisper(folder: Path) -> dict:
    """Convert a CTranslate2 Whisper folder into an openai-whisper checkpoint dict.

    Args:
        folder: holds ``model.bin`` (and ``config.json`` for alignment heads).

    Returns:
        ``{"dims": {...}, "model_state_dict": {name: float32 torch.Tensor}}``, plus
        ``"alignment_heads"``: a list of ``[layer, head]`` pairs for word timing.

    Raises:
        ConversionError: not a Whisper model, or a tensor is missing.
    """
    import torch

    folder = Path(folder)
    spec, var = read_ct2_variables(folder / "model.bin")
    if spec != "WhisperSpec":
        raise ConversionError(f"{folder}: spec {spec!r} is not a Whisper model")

    def f32(name: str) -> np.ndarray:
        if name not in var:
            raise ConversionError(f"{folder}: tensor {name} is missing")
        return np.asarray(var[name], dtype=np.float32)

    n_audio_layer = _count_layers(var, "encoder")
    n_text_layer = _count_layers(var, "decoder")
    n_state = f32("encoder/conv1/bias").shape[0]
    dims = {
        "n_mels": int(var["encoder/conv1/weight"].shape[1]),
        "n_audio_ctx": int(var["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(n_state),
        "n_audio_head": int(var["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(var["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(var["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(var["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(var["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }

    sd: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = f32(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = f32(f"{src}/bias")

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = f32(f"{src}/gamma")
        sd[f"{dst}.bias"] = f32(f"{src}/beta")

    def fused(dst_names: list[str], src: str, no_bias: set[str]) -> None:
        weights = np.split(f32(f"{src}/weight"), len(dst_names), axis=0)
        biases = np.split(f32(f"{src}/bias"), len(dst_names), axis=0)
        for dst, w, b in zip(dst_names, weights, biases):
            sd[f"{dst}.weight"] = w
            if dst.rsplit(".", 1)[-1] not in no_bias:  # Whisper's key projection has no bias
                sd[f"{dst}.bias"] = b

    def block(dst: str, src: str, cross: bool) -> None:
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        fused(
            [f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"],
            f"{src}/self_attention/linear_0",
            no_bias={"key"},
        )
        linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        if cross:
            norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
            linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
            fused([f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], f"{src}/attention/linear_1", no_bias={"key"})
            linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    sd["encoder.positional_embedding"] = f32("encoder/position_encodings/encodings")
    for i in range(n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = f32("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = f32("decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")

    heads: list[list[int]] = []
    config_path = folder / "config.json"
    if config_path.is_file():
        heads = [list(map(int, h)) for h in json.loads(config_path.read_text()).get("alignment_heads", [])]
    return {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
        "alignment_heads": heads,
    }


def cache_key(folder: Path) -> str:
    """A short hash of the source weights' identity (path, size, mtime) and converter version."""
    stat = (Path(folder) / "model.bin").stat()
    ident = f"{Path(folder).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v{CONVERTER_VERSION}"
    return hashlib.sha256(ident.encode()).hexdigest()[:12]


def cached_checkpoint_path(folder: Path, cache_dir: Path, model_name: str) -> Path:
    """Where the converted checkpoint of ``folder`` lives (or will live) in ``cache_dir``."""
    return Path(cache_dir) / f"{model_name}-{cache_key(folder)}.pt"


def convert_to_cache(folder: Path, cache_dir: Path, model_name: str) -> Path:
    """Convert once and cache; returns the checkpoint path. Atomic: a crash leaves no half file.

    Raises:
        ConversionError: as :func:`ct2_to_openai_whisper`.
        OSError: the cache folder cannot be written (full disk, permissions).
    """
    import torch

    target = cached_checkpoint_path(folder, cache_dir, model_name)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = ct2_to_openai_whisper(folder)
    return write_atomically(target, lambda partial: torch.save(checkpoint, partial))
