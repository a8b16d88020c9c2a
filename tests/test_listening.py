"""Listening: the analyser against the field's references, timbre, phrases and pauses,
sounds without words, several voices and languages, and voice → register and mode."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from agent.register import voice_register
from conftest import DATA, MANIFEST, SPEECH, words_of
from modules.voice.audio import load_audio, resample, voices
from modules.voice.hearing import hear
from modules.voice.prosody import analyse

pytestmark = pytest.mark.slow


def speech_voices() -> list[tuple[str, np.ndarray]]:
    """Every voice of every speech recording at 16 kHz (the two-speaker file gives two)."""
    out = []
    for path in sorted(SPEECH.glob("*")):
        audio = load_audio(path)
        for label, mono in voices(audio):
            out.append((path.name + (f"/{label}" if label else ""), resample(mono, audio.rate_hz, 16000)))
    return out


VOICES = speech_voices()


@pytest.mark.parametrize(("name", "samples"), VOICES, ids=[n for n, _ in VOICES])
def test_median_f0_is_within_a_semitone_of_praat(name: str, samples: np.ndarray) -> None:
    import parselmouth

    praat = parselmouth.Sound(samples.astype(np.float64), 16000).to_pitch().selected_array["frequency"]
    ours = analyse(samples, 16000).f0_median_hz
    assert abs(12 * np.log2(ours / np.median(praat[praat > 0]))) < 1.0


def test_f0_and_loudness_correlate_with_opensmile_egemaps_over_all_voices() -> None:
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _, samples in VOICES:
            ref = smile.process_signal(samples, 16000).iloc[0]
            ours = analyse(samples, 16000)
            rows.append((12 * np.log2(ours.f0_median_hz / 27.5), ref["F0semitoneFrom27.5Hz_sma3nz_percentile50.0"],
                         ours.loudness_au, ref["loudness_sma3_amean"]))
    a = np.array(rows)
    assert np.corrcoef(a[:, 0], a[:, 1])[0, 1] >= 0.9
    assert np.corrcoef(a[:, 2], a[:, 3])[0, 1] >= 0.9


def test_timbre_tells_the_two_speakers_apart_better_than_any_two_utterances_of_one() -> None:
    def distance(a, b) -> float:
        return float(np.linalg.norm(np.subtract(a, b)))

    by_name = dict(VOICES)
    left = analyse(by_name["stereo_diarization.wav/left"], 16000).timbre
    right = analyse(by_name["stereo_diarization.wav/right"], 16000).timbre
    spk1 = [analyse(by_name[f"spk1_snt{i}.wav"], 16000).timbre for i in range(1, 6)]
    within = max(distance(a, b) for a, b in itertools.combinations(spk1, 2))
    assert distance(left, right) > 1.5 * within
    # Every other speaker in the corpus is also farther from spk1 than spk1 from itself.
    others = [analyse(by_name[n], 16000).timbre for n in ("LJ050-0131.wav", "jfk.flac", "multilingual.mp3")]
    assert min(distance(o, s) for o in [*others, left, right] for s in spk1) > within


def test_jfk_pauses_and_phrases_fall_where_the_speaker_paused(faster_engine, vad) -> None:
    samples = dict(VOICES)["jfk.flac"]
    words = [(w.text, w.t_start, w.t_end) for w in faster_engine.transcribe(samples).words]
    sound = analyse(samples, 16000, words, vad.segments(samples))
    # JFK pauses about a second after "Americans" and after "ask not" (heard at ~2.3 s and
    # ~4.4 s); Whisper's word times alone stretch over both pauses.
    starts = sound.pause_positions_s
    assert any(2.0 < p < 2.6 for p in starts) and any(4.1 < p < 4.8 for p in starts), starts
    assert 0.15 < sound.pause_ratio < 0.35
    texts = [p.text for p in sound.phrases]
    assert texts[0].endswith("Americans") and texts[1] == "ask not", texts
    assert all(p.f0_median_hz and p.contour for p in sound.phrases)


@pytest.mark.parametrize(("name", "label"), [(n, v["label"]) for n, v in MANIFEST["sounds"].items()])
@pytest.mark.parametrize("engine", ["openai_engine", "faster_engine"])
def test_a_sound_without_words_gets_descriptors_and_no_invented_text(name, label, engine, request, vad) -> None:
    audio = load_audio(DATA / name)
    samples = resample(audio.mono(), audio.rate_hz, 16000)
    heard = hear(samples, vad.segments(samples), request.getfixturevalue(engine), False)
    assert [h.text for h in heard] == [""] * len(heard), f"{label}: Whisper invented text"
    assert {h.kind for h in heard} <= {"sound", "silence"}
    sound = next(h.sound for h in heard if h.kind == "sound")
    assert sound.energy_db is not None and sound.roughness is not None and sound.onset_rate_hz is not None


def test_the_three_sounds_are_described_differently(vad, faster_engine) -> None:
    from agent.lexicon import sound_lexemes

    described = {}
    for name, info in MANIFEST["sounds"].items():
        audio = load_audio(DATA / name)
        samples = resample(audio.mono(), audio.rate_hz, 16000)
        heard = hear(samples, [], faster_engine, False)[0]
        described[info["label"]] = (heard.sound, sound_lexemes(heard.sound))
    lexemes = {k: tuple(v[1]) for k, v in described.items()}
    assert len(set(lexemes.values())) == 3, lexemes
    thunder, horn = described["thunderstorm"][0], described["car_horn"][0]
    assert thunder.centroid_hz < horn.centroid_hz   # thunder rumbles low, the horn is bright
    assert "long" in lexemes["thunderstorm"]


def test_white_noise_and_silence_give_no_text(openai_engine, vad) -> None:
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 0.05, 16000 * 3)).astype(np.float32)
    silence = np.zeros(16000 * 3, np.float32)
    for samples in (noise, silence):
        heard = hear(samples, vad.segments(samples), openai_engine, False)
        assert [h.kind for h in heard] in (["sound"], ["silence"]) and heard[0].text == ""


def test_a_two_speaker_recording_is_heard_as_two_voices(faster_engine, vad) -> None:
    audio = load_audio(SPEECH / "stereo_diarization.wav")
    info = MANIFEST["speech"]["speech/stereo_diarization.wav"]
    texts = {}
    for label, mono in voices(audio):
        samples = resample(mono, audio.rate_hz, 16000)
        texts[label] = " ".join(h.text for h in hear(samples, vad.segments(samples), faster_engine, False,
                                                     speaker=label))
    assert set(texts) == {"left", "right"}
    for side in ("left", "right"):
        expected = words_of(info[f"text_{side}"])
        assert len(expected & words_of(texts[side])) / len(expected) >= 0.8, texts[side]


@pytest.mark.parametrize("engine", ["openai-whisper", "faster-whisper"])
def test_whisper_base_hears_the_german_half_as_german(engine, cache, vad) -> None:
    from modules.voice.asr import AsrOptions, make_engine

    asr = make_engine(engine, AsrOptions(model="base"), cache)
    samples = dict(VOICES)["multilingual.mp3"]
    heard = [h for h in hear(samples, vad.segments(samples), asr, False) if h.kind == "utterance"]
    assert heard[0].language == "en" and "permission is hereby granted" in heard[0].text.lower()
    german = [h for h in heard if h.language == "de"]
    assert german and "software" in " ".join(h.text for h in german).lower()
    assert {"die", "der"} & words_of(" ".join(h.text for h in german))


def _respoken(samples: np.ndarray, range_k: float = 1.0, tempo: float = 1.0,
              final_rise_st: float = 0.0) -> np.ndarray:
    """The same real recording spoken differently, by Praat's PSOLA resynthesis: pitch
    range scaled by ``range_k`` around its mean, tempo scaled, a final rise added."""
    import parselmouth
    from parselmouth.praat import call

    sound = parselmouth.Sound(samples.astype(np.float64), 16000)
    manipulation = call(sound, "To Manipulation", 0.01, 75, 600)
    tier = call(manipulation, "Extract pitch tier")
    mean = call(tier, "Get mean (curve)", sound.xmin, sound.xmax)
    call(tier, "Formula", f"{mean}*(self/{mean})^{range_k}")
    if final_rise_st:
        end = call(tier, "Get time from index", call(tier, "Get number of points"))
        start = end - 0.5
        base = call(tier, "Get value at time", start)
        call(tier, "Formula", f"if x > {start} then {base}*2^({final_rise_st}*(x-{start})/0.5/12) else self fi")
    call([manipulation, tier], "Replace pitch tier")
    durations = call(manipulation, "Extract duration tier")
    call(durations, "Add point", 0, 1 / tempo)
    call([manipulation, durations], "Replace duration tier")
    return call(manipulation, "Get resynthesis (overlap-add)").values[0].astype(np.float32)


def test_the_same_sentence_spoken_differently_gives_different_modes(faster_engine, vad) -> None:
    original = dict(VOICES)["spk1_snt1.wav"]
    variants = {"as recorded": original,
                "wide and fast": _respoken(original, range_k=2.0, tempo=1.7),
                "flat and fast": _respoken(original, range_k=0.5, tempo=2.0),
                "rising at the end": _respoken(original, final_rise_st=14)}
    modes = {}
    for name, samples in variants.items():
        (turn,) = hear(samples, vad.segments(samples), faster_engine, True)
        assert {"child", "hurt", "dog"} <= words_of(turn.text), turn.text
        modes[name] = voice_register(turn.sound, turn.text)
    assert modes["as recorded"] == ("archetypal", "solemn")
    assert modes["wide and fast"] == ("emotional", "excited")
    assert modes["flat and fast"] == ("emotional", "tense")
    assert modes["rising at the end"][1] == "questioning"
    assert len({m for _, m in modes.values()}) == 4
