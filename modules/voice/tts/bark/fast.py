"""Bark's three generation stages, computed faster with the same weights and the same math.

Stock bark 0.1.5 (``bark.generation``) on a CPU spends most of a decoding step on work
that is not the model: the key/value cache grows by ``torch.cat`` (every step copies the
whole cache), the coarse model computes 12 096 logits to use 1 024, and each 60-token
coarse window recomputes its whole prefix even when it is the previous window's prefix
plus the tokens just generated. Here:

* the cache is preallocated and written in place (:class:`KVCache`);
* only the logit rows a step can use are computed;
* a coarse window reuses the cache over its longest common prefix with the last window
  (positions count from the window's start, so the reused keys and values are exactly
  those the stock recomputation would produce);
* the fine stage sums only the codebook embeddings it uses.

Under greedy decoding the tokens equal stock's (with ``top_k=1``) and every step's logits
agree within 1e-4 (tests/test_bark.py). Input building, constants and the sampling rules
are stock's own.

Lossy precision is a separate, opt-in step (:func:`lower_precision`): bf16 weights, or
int8 dynamic quantisation of every linear layer. Both shrink the bytes a decoding step
must read, which is what bounds it on a CPU; neither keeps the tokens equal to stock, and
bench/bark_speed.py reports them apart from the exact path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from modules.voice.tts.bark.imports import bark_generation

#: ``on_logits(stage, step, logits)``: called with each step's usable logits (1-D, float32).
LogitsHook = Callable[[str, int, torch.Tensor], None]


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: ``greedy`` takes the argmax; otherwise stock's
    temperature, top-k and top-p rules."""

    temp: float = 0.7
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False


#: stock Bark's sampling (temperature 0.7, no top-k or top-p).
STOCK_SAMPLING = Sampling()


PRECISIONS = ("float32", "bfloat16", "int8")


def lower_precision(model, precision: str):
    """A copy of a Bark model in ``precision`` (lossy): ``bfloat16`` converts the weights;
    ``int8`` quantises every ``nn.Linear`` dynamically (int8 weights, activations
    quantised per call). ``float32`` returns the model itself.

    Raises:
        ValueError: an unknown precision.
    """
    if precision == "float32":
        return model
    if precision == "bfloat16":
        return copy.deepcopy(model).to(torch.bfloat16)
    if precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
    raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")


def _dtype(model) -> torch.dtype:
    return model.transformer.wpe.weight.dtype


def _device(model) -> torch.device:
    return model.transformer.wpe.weight.device


def _head(model, x: torch.Tensor, rows: slice) -> torch.Tensor:
    """The rows ``rows`` of the output layer on one position ``x`` (shape (n_embd,)); only
    those rows are computed unless the layer is quantised (no row slicing there)."""
    weight = getattr(model.lm_head, "weight", None)
    if isinstance(weight, torch.Tensor):
        return F.linear(x, weight[rows]).float()
    return model.lm_head(x[None])[0, rows].float()


class KVCache:
    """Keys and values of every layer, preallocated to the model's block size.

    ``tokens`` are the ids whose keys and values are held, position 0 first (``None``
    for positions that hold merged ids).
    """

    def __init__(
        self,
        n_layer: int,
        n_head: int,
        head_dim: int,
        max_len: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        shape = (n_layer, 1, n_head, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.tokens: list[int | None] = []

    @classmethod
    def for_model(cls, model) -> KVCache:
        c = model.config
        return cls(c.n_layer, c.n_head, c.n_embd // c.n_head, c.block_size, _dtype(model), _device(model))

    def common_prefix(self, tokens: list[int]) -> int:
        n = 0
        for a, b in zip(self.tokens, tokens):
            if a != b:
                break
            n += 1
        return n


def _block(block, x: torch.Tensor, cache: KVCache, layer: int, start: int) -> torch.Tensor:
    """Bark's ``Block`` on ``x`` (positions ``start``…), reading and extending the cache."""
    attn = block.attn
    b, t, c = x.shape
    hs = c // attn.n_head
    q, k, v = attn.c_attn(block.ln_1(x)).split(attn.n_embd, dim=2)
    q = q.view(b, t, attn.n_head, hs).transpose(1, 2)
    cache.k[layer, :, :, start : start + t] = k.view(b, t, attn.n_head, hs).transpose(1, 2)
    cache.v[layer, :, :, start : start + t] = v.view(b, t, attn.n_head, hs).transpose(1, 2)
    keys = cache.k[layer, :, :, : start + t]
    values = cache.v[layer, :, :, : start + t]
    if start == 0:
        y = F.scaled_dot_product_attention(q, keys, values, is_causal=True)
    elif t == 1:
        y = F.scaled_dot_product_attention(q, keys, values)
    else:  # a chunk after a reused prefix: row i sees positions 0 … start + i
        mask = torch.ones(t, start + t, dtype=torch.bool, device=x.device).tril(diagonal=start)
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask)
    x = x + attn.c_proj(y.transpose(1, 2).reshape(b, t, c))
    return x + block.mlp(block.ln_2(x))


def forward_cached(model, tokens: list[int], cache: KVCache, rows: slice, merge_context: bool = False) -> torch.Tensor:
    """Feed ``tokens`` to a Bark ``GPT`` after what ``cache`` holds; returns the last
    position's logits for ``rows`` of the vocabulary (1-D).

    ``merge_context`` is stock's semantic prefill: the first 256 ids (text) and the next
    256 (semantic history) share positions, their embeddings summed.
    """
    start = len(cache.tokens) if not merge_context else 0
    device = _device(model)
    idx = torch.tensor(tokens, dtype=torch.long, device=device)[None]
    wte = model.transformer.wte
    if merge_context:
        emb = torch.cat([wte(idx[:, :256]) + wte(idx[:, 256:512]), wte(idx[:, 512:])], dim=1)
    else:
        emb = wte(idx)
    t = emb.shape[1]
    x = emb + model.transformer.wpe(torch.arange(start, start + t, device=device))[None]
    for layer, block in enumerate(model.transformer.h):
        x = _block(block, x, cache, layer, start)
    x = model.transformer.ln_f(x[:, -1:, :])
    # Merged positions hold two ids each: marked None, they never match for reuse.
    cache.tokens = [None] * t if merge_context else [*cache.tokens, *tokens]
    return _head(model, x[0, 0], rows)


def _sample(logits: torch.Tensor, sampling: Sampling) -> tuple[int, torch.Tensor | None]:
    """Stock's choice rules on 1-D logits: (chosen index, the probabilities it was drawn
    from; None when greedy)."""
    if sampling.greedy:
        return int(logits.argmax()), None
    logits = logits.clone()
    if sampling.top_p is not None:
        order = torch.argsort(logits, descending=True)
        cumulative = torch.cumsum(torch.softmax(logits[order], dim=-1), dim=-1)
        remove = cumulative > sampling.top_p
        remove[1:] = remove[:-1].clone()
        remove[0] = False
        logits[order[remove]] = -float("inf")
    if sampling.top_k is not None:
        v, _ = torch.topk(logits, min(sampling.top_k, logits.numel()))
        logits[logits < v[-1]] = -float("inf")
    probs = F.softmax(logits / sampling.temp, dim=-1)
    return int(torch.multinomial(probs, num_samples=1)), probs


def generate_semantic(
    text_model,
    tokenizer,
    text: str,
    history_prompt=None,
    sampling: Sampling = STOCK_SAMPLING,
    min_eos_p: float | None = 0.2,
    max_gen_duration_s: float | None = None,
    allow_early_stop: bool = True,
    on_logits: LogitsHook | None = None,
) -> np.ndarray:
    """Text → semantic tokens, as ``bark.generation.generate_text_semantic``."""
    g = bark_generation()
    text = g._normalize_whitespace(text)
    if not text:
        raise ValueError("Bark needs some text to speak")
    encoded = np.array(g._tokenize(tokenizer, text)) + g.TEXT_ENCODING_OFFSET
    encoded = np.pad(encoded[:256], (0, max(0, 256 - len(encoded))), constant_values=g.TEXT_PAD_TOKEN)
    if history_prompt is not None:
        history = g._load_history_prompt(history_prompt)["semantic_prompt"].astype(np.int64)[-256:]
        history = np.pad(history, (0, 256 - len(history)), constant_values=g.SEMANTIC_PAD_TOKEN)
    else:
        history = np.full(256, g.SEMANTIC_PAD_TOKEN)
    prompt = [*map(int, encoded), *map(int, history), g.SEMANTIC_INFER_TOKEN]
    cache = KVCache.for_model(text_model)
    vocab = g.SEMANTIC_VOCAB_SIZE
    rows = slice(0, vocab + 1)  # the semantic vocabulary and the pad token, which means "end"
    out: list[int] = []
    duration_s = 0.0
    with torch.inference_mode():
        logits = forward_cached(text_model, prompt, cache, rows, merge_context=True)
        for step in range(768):
            usable = logits if allow_early_stop else logits[:vocab]
            if on_logits is not None:
                on_logits("semantic", step, usable)
            token, probs = _sample(usable, sampling)
            if allow_early_stop and (
                token == vocab or (min_eos_p is not None and probs is not None and float(probs[-1]) >= min_eos_p)
            ):
                break
            out.append(token)
            duration_s += 1 / g.SEMANTIC_RATE_HZ
            if (max_gen_duration_s is not None and duration_s > max_gen_duration_s) or step == 767:
                break
            logits = forward_cached(text_model, [token], cache, rows)
    return np.array(out, dtype=np.int64)


def generate_coarse(
    coarse_model,
    semantic: np.ndarray,
    history_prompt=None,
    sampling: Sampling = STOCK_SAMPLING,
    max_coarse_history: int = 630,
    sliding_window_len: int = 60,
    on_logits: LogitsHook | None = None,
) -> np.ndarray:
    """Semantic tokens → the first two EnCodec codebooks, as ``bark.generation.generate_coarse``;
    returns an int array of shape (2, n_frames)."""
    g = bark_generation()
    ratio = g.COARSE_RATE_HZ / g.SEMANTIC_RATE_HZ * g.N_COARSE_CODEBOOKS
    max_semantic_history = int(np.floor(max_coarse_history / ratio))
    if history_prompt is not None:
        prompt = g._load_history_prompt(history_prompt)
        sem_hist = prompt["semantic_prompt"]
        coarse_hist = g._flatten_codebooks(prompt["coarse_prompt"]) + g.SEMANTIC_VOCAB_SIZE
        n_sem = int(
            np.min([max_semantic_history, len(sem_hist) - len(sem_hist) % 2, int(np.floor(len(coarse_hist) / ratio))])
        )
        n_coarse = round(n_sem * ratio)
        sem_hist = sem_hist[-n_sem:].astype(np.int32)
        coarse_hist = coarse_hist[-n_coarse:].astype(np.int32)[:-2]  # stock's time-alignment trim
    else:
        sem_hist = np.array([], dtype=np.int32)
        coarse_hist = np.array([], dtype=np.int32)
    n_steps = round(np.floor(len(semantic) * ratio / g.N_COARSE_CODEBOOKS) * g.N_COARSE_CODEBOOKS)
    if n_steps <= 0:
        raise ValueError("too few semantic tokens for one coarse frame")
    all_semantic = [int(v) for v in np.hstack([sem_hist, semantic])]
    coarse = [int(v) for v in coarse_hist]
    base = len(sem_hist)
    cache = KVCache.for_model(coarse_model)
    step = 0
    with torch.inference_mode():
        for _ in range(int(np.ceil(n_steps / sliding_window_len))):
            sem_idx = base + round(step / ratio)
            window = all_semantic[max(0, sem_idx - max_semantic_history) :][:256]
            window += [g.COARSE_SEMANTIC_PAD_TOKEN] * (256 - len(window))
            x_in = [*window, g.COARSE_INFER_TOKEN, *coarse[-max_coarse_history:]]
            reuse = min(cache.common_prefix(x_in), len(x_in) - 1)
            cache.tokens = cache.tokens[:reuse]
            pending = x_in[reuse:]
            for _ in range(sliding_window_len):
                if step >= n_steps:
                    break
                major = step % g.N_COARSE_CODEBOOKS == 0
                first = g.SEMANTIC_VOCAB_SIZE + (0 if major else g.CODEBOOK_SIZE)
                logits = forward_cached(coarse_model, pending, cache, slice(first, first + g.CODEBOOK_SIZE))
                if on_logits is not None:
                    on_logits("coarse", step, logits)
                token = _sample(logits, sampling)[0] + first
                coarse.append(token)
                pending = [token]
                step += 1
    out = np.array(coarse[len(coarse_hist) :]).reshape(-1, g.N_COARSE_CODEBOOKS).T - g.SEMANTIC_VOCAB_SIZE
    for n in range(1, g.N_COARSE_CODEBOOKS):
        out[n, :] -= n * g.CODEBOOK_SIZE
    return out


def _fine_logits(fine_model, pred_idx: int, codes: torch.Tensor) -> torch.Tensor:
    """``FineGPT.forward``, summing only the embeddings of codebooks 0 … ``pred_idx``
    (stock embeds all eight, then sums the first ones)."""
    t = codes.shape[1]
    wtes = fine_model.transformer.wtes
    x = wtes[0](codes[:, :, 0])
    for i in range(1, pred_idx + 1):
        x = x + wtes[i](codes[:, :, i])
    x = x + fine_model.transformer.wpe(torch.arange(t, device=codes.device))[None]
    for block in fine_model.transformer.h:
        x = block(x)
    x = fine_model.transformer.ln_f(x)
    return fine_model.lm_heads[pred_idx - fine_model.config.n_codes_given](x)


def generate_fine(
    fine_model, coarse: np.ndarray, history_prompt=None, temp: float | None = 0.5, on_logits: LogitsHook | None = None
) -> np.ndarray:
    """Coarse codes (shape (n_coarse, n_frames)) → all eight codebooks, as
    ``bark.generation.generate_fine``; ``temp=None`` is greedy. Returns shape (8, n_frames)."""
    g = bark_generation()
    n_fine, size = g.N_FINE_CODEBOOKS, g.CODEBOOK_SIZE
    n_coarse = coarse.shape[0]
    arr = np.vstack([coarse, np.full((n_fine - n_coarse, coarse.shape[1]), size)]).astype(np.int32)
    n_history = 0
    if history_prompt is not None:
        fine_hist = g._load_history_prompt(history_prompt)["fine_prompt"].astype(np.int32)[:, -512:]
        arr = np.hstack([fine_hist, arr])
        n_history = fine_hist.shape[1]
    n_pad = max(0, 1024 - arr.shape[1])
    if n_pad:
        arr = np.hstack([arr, np.full((n_fine, n_pad), size, dtype=np.int32)])
    n_loops = max(0, int(np.ceil((coarse.shape[1] - (1024 - n_history)) / 512))) + 1
    codes = torch.tensor(arr.T, dtype=torch.long, device=_device(fine_model))
    with torch.inference_mode():
        for n in range(n_loops):
            start = min(n * 512, codes.shape[0] - 1024)
            fill = min(n_history + n * 512, codes.shape[0] - 512)
            rel = fill - start
            window = codes[start : start + 1024][None].clone()
            for nn in range(n_coarse, n_fine):
                logits = _fine_logits(fine_model, nn, window)[0, rel:, :size].float()
                if on_logits is not None:
                    on_logits("fine", n * n_fine + nn, logits)
                if temp is None:
                    window[0, rel:, nn] = logits.argmax(-1)
                else:
                    window[0, rel:, nn] = torch.multinomial(F.softmax(logits / temp, -1), 1)[:, 0]
            codes[fill : fill + (1024 - rel), n_coarse:] = window[0, rel:, n_coarse:]
    out = codes.cpu().numpy().T[:, n_history:]
    return out[:, : out.shape[1] - n_pad] if n_pad else out
