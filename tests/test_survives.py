"""The live loop survives what a long-running agent meets: a module that raises on every
scene it is given, and audio frames that are NaN or clipped far beyond full scale. Driven by
a file as the microphone (``[modules.voice] input_file``), in process."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import soundfile as sf
from conftest import SPEECH, load_16k, words_of

from agent.config import load_config
from agent.module import Module
from agent.plugins import Plugin
from agent.scene import Scene
from agent.session import Session


class RaisingModuleForTests(Module):
    """A module that raises on every turn and reply it is given (a broken plug-in)."""

    name = "raising"

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.raised = 0

    def wants(self, scene: Scene) -> bool:
        return scene.kind in ("turn", "reply")

    async def handle(self, scene: Scene) -> None:
        self.raised += 1
        raise RuntimeError(f"broken plug-in on {scene.kind}")


@pytest.mark.slow
def test_the_live_loop_hears_and_answers_through_a_raising_module_and_nan_and_clipped_frames(
    tmp_path, monkeypatch
) -> None:
    rate = 16_000
    first, second = load_16k(SPEECH / "spk1_snt1.wav"), load_16k(SPEECH / "spk1_snt3.wav")
    nan = np.full(rate, np.nan, np.float32)
    clipped = np.clip(8.0 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate), -4, 4).astype(np.float32)
    gap = np.zeros(rate, np.float32)
    audio = np.concatenate([gap, first, gap, nan, gap, clipped, gap, second, gap])
    wav = tmp_path / "hostile.wav"
    sf.write(wav, audio, rate, subtype="FLOAT")  # float WAV keeps the NaNs and the ±4
    assert np.isnan(sf.read(wav)[0]).any() and np.abs(np.nan_to_num(sf.read(wav)[0])).max() > 3

    import agent.session

    found = agent.session.discover()
    monkeypatch.setattr(
        agent.session, "discover", lambda: {**found, "raising": Plugin("raising", "tests", RaisingModuleForTests)}
    )
    config = load_config(
        None,
        [
            f"modules.voice.input_file={json.dumps(str(wav))}",
            f"modules.voice.output={json.dumps(str(tmp_path / 'reply.wav'))}",
            "modules.raising.enabled=true",
            "modules.memory.enabled=false",
        ],
    )

    async def run() -> list[Scene]:
        seen: list[Scene] = []
        async with Session(config) as session:
            assert "raising" in session.modules
            observed: list[Scene] = []

            async def watch(scene: Scene) -> None:
                observed.append(scene)

            session.bus.subscribe("test.watch", watch)
            request = Scene(channel="voice", kind="listen.live")
            async for scene in session.request(
                request, until=lambda s: s.kind in ("done", "error") and s.parents == [request.id], timeout_s=300
            ):
                seen.append(scene)
            await asyncio.sleep(0.5)
            seen += [s for s in observed if s.kind == "error"]
            assert session.modules["raising"].raised >= 4  # type: ignore[attr-defined]
        return seen

    seen = asyncio.run(run())
    turns = [s for s in seen if s.kind == "turn"]
    assert seen[-1].kind in ("done", "error") and any(s.kind == "done" for s in seen), [s.kind for s in seen]
    texts = [words_of(t.text or "") for t in turns]
    assert any({"child", "dog"} <= w for w in texts) and any({"air", "pure"} <= w for w in texts), texts
    assert sum(s.kind == "reply" for s in seen) >= 2
    failures = [s for s in seen if s.kind == "error" and s.error and s.error.reason == "module.failed"]
    assert failures and all("raising" in (s.error.message if s.error else "") for s in failures)
    for turn in turns:  # what was measured is a number, never NaN
        assert turn.sound is not None and turn.sound.energy_db is not None and np.isfinite(turn.sound.energy_db)
