"""Bark, the card's synthesiser. No real weights exist here: every generation test runs
Bark's real code path with tiny random-weight models of its real structure (vocabularies,
block size), and says so in its name."""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, run_cli

from agent.melody import plan_voice
from agent.scene import Scene
from modules.voice.speak.voicing import Voicing, measure
from modules.voice.tts.bark import fast
from modules.voice.tts.bark.imports import bark_generation
from modules.voice.tts.bark.models import (
    ENCODEC_FILE,
    BarkWeightsMissing,
    encodec_path,
    load_checkpoint,
    load_codec,
    load_models,
    load_tokenizer,
    lowered,
    model_from_checkpoint,
    random_models,
    weights_status,
)
from modules.voice.tts.bark.presets import default_preset, settings_for
from modules.voice.tts.bark.voice import BarkVoice, cue_text, preset_path
from modules.voice.tts.piper import piper_voices

#: the voice a Bark-speaking module announces: Bark's presets have no row in the voice
#: table, so it carries the configured Piper voice's numbers under Bark's default preset.
BARK = piper_voices()["joe"].profile(engine="bark", voice=default_preset())

TEXT = "Hello there, friend. How are you today?"


@pytest.fixture(scope="module")
def tiny():
    return random_models("tiny")


def test_bark_imports_without_torchaudio_and_leaves_no_placeholder_behind() -> None:
    generation = bark_generation()
    assert callable(generation.generate_coarse)
    if importlib.util.find_spec("torchaudio") is None:
        assert "torchaudio" not in sys.modules
        import encodec.utils

        with pytest.raises(AttributeError, match="torchaudio cannot load"):
            encodec.utils.torchaudio.load("x.wav")


def _stock(generation, models, prompt, logs):
    generation.models.update(
        text={"model": models.text, "tokenizer": models.tokenizer}, coarse=models.coarse, fine=models.fine
    )
    originals = {}

    def record(model, stage, pick):
        originals[stage] = model.forward

        def forward(*a, **k):
            out = originals[stage](*a, **k)
            logs[stage].append(pick(out[0] if isinstance(out, tuple) else out).float().clone())
            return out

        model.forward = forward

    record(models.text, "semantic", lambda lg: lg[0, 0, :10_000])
    record(models.coarse, "coarse", lambda lg: lg[0, 0])
    record(models.fine, "fine", lambda lg: lg[0, :, :1024])
    try:
        sem = generation.generate_text_semantic(
            TEXT,
            history_prompt=prompt,
            top_k=1,
            silent=True,
            use_kv_caching=True,
            max_gen_duration_s=1.5,
            allow_early_stop=False,
        )
        coarse = generation.generate_coarse(sem, history_prompt=prompt, top_k=1, silent=True, use_kv_caching=True)
        fine = generation.generate_fine(coarse, history_prompt=prompt, temp=None, silent=True)
    finally:
        models.text.forward = originals["semantic"]
        models.coarse.forward = originals["coarse"]
        models.fine.forward = originals["fine"]
    return sem, coarse, fine


@pytest.mark.parametrize("preset", [None, "v2/en_speaker_6"])
def test_fast_bark_makes_stock_barks_tokens_and_logits_with_tiny_random_weight_models(tiny, preset) -> None:
    generation = bark_generation()
    prompt = str(preset_path(preset)) if preset else None
    stock_logs = {"semantic": [], "coarse": [], "fine": []}
    ours_logs = {"semantic": [], "coarse": [], "fine": []}
    stock = _stock(generation, tiny, prompt, stock_logs)

    def hook(stage, i, lg):
        ours_logs[stage].append(lg.clone())

    greedy = fast.Sampling(greedy=True)
    sem = fast.generate_semantic(
        tiny.text,
        tiny.tokenizer,
        TEXT,
        history_prompt=prompt,
        sampling=greedy,
        max_gen_duration_s=1.5,
        allow_early_stop=False,
        on_logits=hook,
    )
    coarse = fast.generate_coarse(tiny.coarse, sem, history_prompt=prompt, sampling=greedy, on_logits=hook)
    fine = fast.generate_fine(tiny.fine, coarse, history_prompt=prompt, temp=None, on_logits=hook)
    for a, b in zip(stock, (sem, coarse, fine)):
        assert np.array_equal(a, b)
    assert len(stock_logs["semantic"]) == len(ours_logs["semantic"]) == len(sem)
    assert (
        max(float((a - b[:10_000]).abs().max()) for a, b in zip(stock_logs["semantic"], ours_logs["semantic"])) < 1e-4
    )
    coarse_diffs = []
    for i, (a, b) in enumerate(zip(stock_logs["coarse"], ours_logs["coarse"])):
        first = 10_000 + (0 if i % 2 == 0 else 1024)
        coarse_diffs.append(float((a[first : first + 1024] - b).abs().max()))
    assert len(coarse_diffs) == coarse.size and max(coarse_diffs) < 1e-4
    # Stock returns logits for all 1024 positions, ours for those it fills (after a history).
    assert max(float((a[-b.shape[0] :] - b).abs().max()) for a, b in zip(stock_logs["fine"], ours_logs["fine"])) < 1e-4


def test_a_coarse_window_that_extends_the_last_reuses_its_cache_with_tiny_random_weight_models(
    tiny, monkeypatch
) -> None:
    fed = []
    original = fast.forward_cached

    def spy(model, tokens, cache, rows, merge_context=False):
        fed.append(len(tokens))
        return original(model, tokens, cache, rows, merge_context)

    monkeypatch.setattr(fast, "forward_cached", spy)
    semantic = np.arange(100) % 10_000
    coarse = fast.generate_coarse(tiny.coarse, semantic, sampling=fast.Sampling(greedy=True))
    steps = coarse.size  # 150 frames × 2 codebooks = 300 steps over 5 windows of 60
    assert steps == 300 and len(fed) == steps
    assert fed[0] == 257 and fed.count(1) == steps - 1, "only the first window computes its prefix"


class _Recording:
    """The engine under test, unchanged, keeping what it rendered before the realiser."""

    def __init__(self, engine) -> None:
        self.engine, self.raw = engine, []
        self.name, self.rate_hz, self.voices_cues = engine.name, engine.rate_hz, engine.voices_cues

    def render(self, text, plan, first=False):
        self.raw.append(self.engine.render(text, plan, first))
        return self.raw[-1]


def test_the_realiser_sets_level_and_pitch_of_tiny_random_weight_bark_output_from_the_plan(tiny) -> None:
    """Random-weight Bark's raw output sits wherever its random codebooks put it (measured:
    about −18 dBFS at ~300 Hz). The plan asks for 8 dB quieter than its register's level:
    the finished reply must come out at the plan's level and pitch, far from the raw ones,
    so only the realiser can have put it there."""
    torch.manual_seed(0)
    plan = plan_voice(Scene(channel="voice", kind="reply", text=TEXT, register="emotional", core="friend"), own=BARK)
    plan.energy_db -= 8.0
    engine = _Recording(BarkVoice(tiny, max_seconds_per_call=0.6))
    voiced = Voicing(engine).render(TEXT, plan)
    raw = measure(np.concatenate(engine.raw), 24_000, TEXT)
    assert voiced.rate_hz == 24_000 and np.isfinite(voiced.samples).all() and voiced.sound.duration_s > 1.0
    assert abs(raw.energy_db - plan.energy_db) >= 5.0, "the test needs a raw level away from the plan"
    assert abs(12 * np.log2(raw.f0_median_hz / plan.f0_median_hz)) >= 6.0, "… and a raw pitch away from it"
    assert abs(voiced.sound.energy_db - plan.energy_db) <= 1.5, (raw.energy_db, voiced.sound.energy_db, plan.energy_db)
    # Pitch within 3 st, from ≥ 6 st away: the tiny model's sound is noise-like, voiced in
    # patches (F0 range > 30 st), so its median is only loosely defined (measured 1.4–2.0 st off).
    assert abs(12 * np.log2(voiced.sound.f0_median_hz / plan.f0_median_hz)) <= 3.0, (
        raw.f0_median_hz,
        voiced.sound.f0_median_hz,
        plan.f0_median_hz,
    )


def test_sampling_keeps_tokens_in_their_vocabularies_with_tiny_random_weight_models(tiny) -> None:
    torch.manual_seed(3)
    sampling = fast.Sampling(temp=0.7, top_k=50, top_p=0.9)
    sem = fast.generate_semantic(tiny.text, tiny.tokenizer, TEXT, sampling=sampling, max_gen_duration_s=0.5)
    assert len(sem) and sem.max() < 10_000
    coarse = fast.generate_coarse(tiny.coarse, np.resize(sem, max(len(sem), 20)), sampling=sampling)
    fine = fast.generate_fine(tiny.fine, coarse, temp=0.5)
    assert coarse.max() < 1024 and fine.shape[0] == 8 and fine.max() < 1024


def test_lossy_precision_is_an_explicit_choice(tiny) -> None:
    int8 = lowered(tiny, "int8")
    sem = fast.generate_semantic(
        int8.text,
        int8.tokenizer,
        TEXT,
        sampling=fast.Sampling(greedy=True),
        max_gen_duration_s=0.3,
        allow_early_stop=False,
    )
    assert len(sem) > 0
    with pytest.raises(ValueError, match="precision 'fp8'"):
        fast.lower_precision(tiny.text, "fp8")


def test_a_checkpoint_in_barks_format_loads_through_the_allow_list_and_code_in_one_does_not(tiny, tmp_path) -> None:
    c = tiny.coarse.config
    checkpoint = {
        "model_args": {
            "n_layer": c.n_layer,
            "n_head": c.n_head,
            "n_embd": c.n_embd,
            "block_size": c.block_size,
            "bias": c.bias,
            "dropout": 0.0,
            "vocab_size": c.input_vocab_size,
        },
        "model": {f"_orig_mod.{k}": v for k, v in tiny.coarse.state_dict().items()},
        "best_val_loss": np.float64(1.25),
    }  # what makes weights_only refuse Bark's files
    path = tmp_path / "coarse.pt"
    torch.save(checkpoint, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # the trap: plain weights_only refuses numpy scalars
    model = model_from_checkpoint("coarse", load_checkpoint(path))
    for name, value in tiny.coarse.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    evil = tmp_path / "evil.pt"
    torch.save({"model_args": {}, "model": Payload()}, evil)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(evil)
    assert not (tmp_path / "pwned").exists()


def test_a_tokenizer_that_falls_back_to_a_tiny_vocabulary_is_refused(monkeypatch) -> None:
    # Offline, BertTokenizer.from_pretrained can return a 5-token vocabulary (MODELS.md);
    # here a 5-token tokenizer stands in for that fallback to check the guard.
    from transformers import BertTokenizer

    class FiveTokens:
        def __len__(self):
            return 5

    monkeypatch.setattr(BertTokenizer, "from_pretrained", classmethod(lambda cls, *a, **k: FiveTokens()))
    with pytest.raises(BarkWeightsMissing, match="5-token vocabulary"):
        load_tokenizer()


def test_the_real_tokenizer_missing_offline_is_reported(tmp_path) -> None:
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", "from modules.voice.tts.bark.models import load_tokenizer; load_tokenizer()"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert "BarkWeightsMissing" in proc.stderr and "bert-base-multilingual-cased" in proc.stderr


def test_missing_bark_weights_are_named_with_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(BarkWeightsMissing) as info:
        load_models("small", allow_download=False)
    assert "text.pt" in str(info.value) and str(tmp_path) in str(info.value)


@pytest.mark.slow
def test_say_with_bark_and_no_weights_fails_with_a_clear_message(tmp_path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    result = run_cli("say", "Hello.", "--engine", "bark", "-o", str(tmp_path / "x.wav"), env=env)
    assert result.code == 3
    assert "Bark small weights are missing" in result.stderr and "use the piper engine" in result.stderr


def test_the_preset_table_and_text_cues_follow_the_plan() -> None:
    def plan(register, language=None):
        p = plan_voice(
            Scene(channel="voice", kind="reply", text=TEXT, register=register, core="friend+today"), own=BARK
        )
        p.language = language
        return p

    emotional = settings_for(plan("emotional"))
    assert emotional.emphasis and emotional.text_temp == 0.8
    assert cue_text("how is my friend today", plan("emotional"), emotional, first=False) == "how is my FRIEND TODAY"
    bodily = plan("bodily")
    assert cue_text("hello", bodily, settings_for(bodily), first=True).startswith("…")
    assert settings_for(plan("logical", "de")).preset == "v2/de_speaker_3"
    assert settings_for(plan("archetypal")).preset == "v2/en_speaker_9"
    for register in ("logical", "poetic", "emotional", "archetypal", "bodily"):
        assert preset_path(settings_for(plan(register)).preset).is_file()
    with pytest.raises(ValueError, match="no voice preset") as refused:
        preset_path("v2/xx_speaker_0")
    assert refused.value.reason == "config.invalid" and refused.value.exit_code == 2


def test_a_bark_voice_profile_carries_the_piper_voices_numbers_under_barks_default_preset() -> None:
    from modules.voice.engines import VoiceEngines
    from modules.voice.options import VoiceOptions

    joe = piper_voices()["joe"]
    profile = VoiceEngines(VoiceOptions(tts="bark")).profile()
    assert (
        (profile.engine, profile.voice)
        == ("bark", "v2/en_speaker_6")
        == ("bark", settings_for(plan_voice(Scene(channel="voice", kind="reply", text=TEXT), own=BARK)).preset)
    )
    assert (profile.f0_hz, profile.rate_wps, profile.min_f0_hz, profile.max_f0_hz) == (
        joe.natural_f0_hz,
        joe.natural_rate_wps,
        joe.min_f0_hz,
        joe.max_f0_hz,
    )


def test_bark_offline_with_downloads_allowed_fails_at_once_with_the_fix(tmp_path) -> None:
    # An unreachable hub (a closed local port) stands for a machine without network.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:9"}
    code = "from modules.voice.tts.bark.models import load_models; load_models('small', allow_download=True)"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False
    )
    assert proc.returncode != 0
    assert "BarkWeightsMissing" in proc.stderr and "cannot be reached" in proc.stderr
    assert "text.pt" in proc.stderr and "piper" in proc.stderr


def test_encodec_weights_are_read_where_torch_hub_keeps_them_under_torch_home_with_a_random_weight_file(
    tiny, tmp_path, monkeypatch
) -> None:
    """``encodec_path`` follows ``$TORCH_HOME`` (via ``torch.hub.get_dir``), and it is the
    very file encodec itself loads: a random-weight EnCodec state saved there (the real
    weights cannot be had offline) is what ``load_codec`` returns, with no network."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = encodec_path()
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / ENCODEC_FILE
    assert weights_status("small")[-1] == ("EnCodec 24 kHz", path, False)
    path.parent.mkdir(parents=True)
    torch.save(tiny.codec.state_dict(), path)
    assert weights_status("small")[-1][2]
    codec = load_codec()
    for name, value in tiny.codec.state_dict().items():
        assert torch.equal(codec.state_dict()[name], value), name
