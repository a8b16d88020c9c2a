"""Bark as a speech engine: a voice plan picks the preset, the text cues and the
temperatures (``assets/bark_presets.toml``, read by ``tts.bark.presets``); generation runs
the exact path of tts.bark.fast.

Each clause is at most ``MAX_WORDS_PER_CALL`` words per Bark call (Bark makes about 13 s
per call); longer clauses are cut between words. Audio comes out at 24 kHz.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from agent.errors import InputError
from agent.voiceplan import VoicePlan
from modules.voice.tts.bark import fast
from modules.voice.tts.bark.imports import bark_generation
from modules.voice.tts.bark.models import BarkModels
from modules.voice.tts.bark.presets import PRESETS_TOML, BarkSettings, settings_for

__all__ = ["MAX_WORDS_PER_CALL", "BarkSettings", "BarkVoice", "codec_decode", "cue_text", "preset_path", "settings_for"]

#: about 11 s at an unhurried pace: under Bark's ~13 s per call.
MAX_WORDS_PER_CALL = 30
_CUE_TEXT = {
    "sighs": "[sighs]",
    "laughs": "[laughs]",
    "gasps": "[gasps]",
    "clears throat": "[clears throat]",
    "breath": "…",
}


def preset_path(preset: str) -> Path:
    """The .npz history prompt bark ships for ``preset``.

    Raises:
        InputError: bark ships no such preset (a ``ValueError``; reason ``config.invalid``:
            the preset table names it).
    """
    generation = bark_generation()
    path = Path(generation.CUR_PATH) / "assets" / "prompts" / f"{preset}.npz"
    if not path.is_file():
        raise InputError(
            f"Bark has no voice preset {preset!r} (edit {PRESETS_TOML})", reason="config.invalid", subject=preset
        )
    return path


def cue_text(text: str, plan: VoicePlan, settings: BarkSettings, first: bool) -> str:
    """``text`` with Bark's text cues: the plan's cues before the reply's first clause, and
    its emphasised words in CAPITALS when the register asks for emphasis."""
    if settings.emphasis and plan.emphasis:
        stressed = {w.lower() for w in plan.emphasis}
        text = re.sub(
            r"[^\W\d_]+", lambda m: m.group(0).upper() if m.group(0).lower() in stressed else m.group(0), text
        )
    if first and plan.cues:
        text = " ".join(_CUE_TEXT[c] for c in plan.cues) + " " + text
    return text


def codec_decode(codec, fine: np.ndarray) -> np.ndarray:
    """EnCodec: eight codebooks (shape (8, n_frames)) → mono float32 audio at 24 kHz."""
    with torch.inference_mode():
        codes = torch.from_numpy(fine.astype(np.int64))[None].transpose(0, 1)
        codes = codes.to(next(codec.parameters()).device)
        audio = codec.decoder(codec.quantizer.decode(codes))
    return audio.detach().cpu().numpy().squeeze().astype(np.float32)


class BarkVoice:
    """Bark's models behind the speech-engine interface of ``voicing``."""

    name = "bark"
    rate_hz = 24_000
    voices_cues = True

    def __init__(self, models: BarkModels, max_seconds_per_call: float | None = None) -> None:
        """``max_seconds_per_call`` caps the semantic tokens of one call (Bark's
        ``max_gen_duration_s``); random-weight models never choose to stop on their own."""
        self.models = models
        self.max_seconds_per_call = max_seconds_per_call

    def render(self, text: str, plan: VoicePlan, first: bool = False) -> np.ndarray:
        """One clause: text → semantic → coarse → fine → EnCodec, with the preset's history."""
        settings = settings_for(plan)
        prompt = str(preset_path(settings.preset))
        words = text.split()
        pieces = []
        for start in range(0, len(words), MAX_WORDS_PER_CALL):
            chunk = cue_text(" ".join(words[start : start + MAX_WORDS_PER_CALL]), plan, settings, first and start == 0)
            m = self.models
            # Bark on a CPU takes tens of seconds per call: show where it is (terminals only).
            bar = tqdm(
                total=4,
                desc=f"Bark «{chunk[:24]}»",
                unit="stage",
                leave=False,
                file=sys.stderr,
                disable=not sys.stderr.isatty(),
                bar_format="{desc} {bar} {n}/{total} {postfix}",
            )
            bar.set_postfix_str("semantic")
            semantic = fast.generate_semantic(
                m.text,
                m.tokenizer,
                chunk,
                history_prompt=prompt,
                sampling=fast.Sampling(temp=settings.text_temp),
                min_eos_p=settings.min_eos_p,
                max_gen_duration_s=self.max_seconds_per_call,
            )
            if len(semantic) < 2:  # the model ended at once: nothing to say for this chunk
                bar.close()
                continue
            bar.update()
            bar.set_postfix_str("coarse")
            coarse = fast.generate_coarse(
                m.coarse, semantic, history_prompt=prompt, sampling=fast.Sampling(temp=settings.waveform_temp)
            )
            bar.update()
            bar.set_postfix_str("fine")
            fine = fast.generate_fine(m.fine, coarse, history_prompt=prompt, temp=0.5)
            bar.update()
            bar.set_postfix_str("codec")
            pieces.append(codec_decode(m.codec, fine))
            bar.update()
            bar.close()
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
