"""One agent, two rooms: three processes — ``serve --role hub`` and two ``serve --role
satellite`` (kitchen, hall), each room with its own sound server, microphone and speaker
(two virtual PulseAudio rigs) — hold one conversation through a real mosquitto with
passwords and an ACL.

A name told in the kitchen is answered in the kitchen and not in the hall; asked in the
hall, it is recalled there (one memory, the hub's); one utterance played into both rooms at
once, loud and clear in the hall and faint in a noisy kitchen, is answered once, in the
hall, and the hub's recording keeps the choice with its evidence. Between the first two
turns the broker is killed (SIGKILL) and started again: every peer reconnects. Real parts end to end:
Piper's voice speaks the user's lines, Whisper hears them in each room, the hub's rule mind
and MemoryAnchor answer and remember.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from bench.appliance import SPEECH, Appliance

pytestmark = [pytest.mark.slow, pytest.mark.audio_rig]

PASSWORDS = {"kitchen": "kitchen-pw", "hall": "hall-pw", "hub": "hub-pw"}
#: the longest any step may take on a loaded 2-core machine: three agents share it (s).
STEP_S = 120.0


def _counts(appliance: Appliance) -> dict[str, int]:
    body, _ = appliance.health()
    return body["counts"]


def _wait(check, what: str, processes: list[Appliance], timeout_s: float = STEP_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        for p in processes:
            if p.process.poll() is not None:
                raise AssertionError(f"a peer exited ({p.process.returncode}):\n" + "\n".join(p.lines[-30:]))
        time.sleep(0.2)
    tails = "\n---\n".join("\n".join(p.lines[-15:]) for p in processes)
    raise AssertionError(f"not within {timeout_s:.0f} s: {what}\n{tails}")


def _scenes(folder: Path) -> list[dict]:
    (session,) = folder.iterdir()
    lines = (session / "scenes.jsonl").read_text().splitlines()
    return [json.loads(line)["scene"] for line in lines if line.strip()]


def _with_noise(speech: np.ndarray, gain: float, noise_dbfs: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lead = np.zeros(8000, np.float32)
    y = np.concatenate([lead, gain * speech, lead, lead]).astype(np.float32)
    noise = rng.normal(0.0, 10 ** (noise_dbfs / 20), len(y)).astype(np.float32)
    return np.clip(y + noise, -1, 1)


def test_two_rooms_and_a_hub_hold_one_conversation(tmp_path) -> None:
    from bench.mosquitto import Broker
    from modules.voice.io.virtual_devices import audio_rig

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "say")}
    for text, wav in (("My name is Anna.", "anna.wav"), ("What is my name?", "question.wav")):
        made = run_cli("say", text, "-o", str(tmp_path / wav), env=env)
        assert made.code == 0, made.stderr
    # One utterance heard in both rooms: near the speaker in the hall, farther (−9 dB) and over
    # more noise in the kitchen — still clear enough for Whisper to hear it as one turn (at
    # ×0.2 under −45 dBFS it once heard a second fragment, "I'm not.", after it).
    speech, rate = sf.read(SPEECH / "spk1_snt1.wav", dtype="float32")
    sf.write(tmp_path / "hall-hears.wav", _with_noise(speech, 1.0, -60.0, 1), rate, subtype="PCM_16")
    sf.write(tmp_path / "kitchen-hears.wav", _with_noise(speech, 0.35, -55.0, 2), rate, subtype="PCM_16")

    with Broker(tmp_path / "broker", PASSWORDS) as broker, audio_rig() as kitchen_rig, audio_rig() as hall_rig:
        common = [
            f"modules.bridge.port={broker.port}",
            "modules.bridge.password_env=SV_TEST_MQTT_PASSWORD",
            "modules.bridge.resend_s=1.0",
            # Three agents on two cores: the two rooms' Whisper finish seconds apart (2.1 s
            # measured), where satellites on machines of their own finish within the
            # shipped 1.5 s. The choice is made as soon as both rooms' hearings are in; this
            # is only the longest a turn heard in one room waits for the other (and a
            # hearing later still is not answered again: test_bridge_rooms.py).
            "modules.bridge.one_room_s=20.0",
            "modules.bridge.reply_wait_s=90.0",
        ]

        def peer(site: str, base_env: dict[str, str], role: str) -> Appliance:
            peer_env = {
                **base_env,
                "XDG_DATA_HOME": str(tmp_path / f"{site}-data"),
                "SV_TEST_MQTT_PASSWORD": PASSWORDS[site],
            }
            options = ["--role", role] + (["--site", site] if role == "satellite" else [])
            return Appliance(
                peer_env,
                *common,
                f"modules.bridge.username={site}",
                record=str(tmp_path / f"{site}-rec"),
                options=options,
            )

        hub = peer("hub", dict(os.environ), "hub")
        kitchen = peer("kitchen", kitchen_rig.env, "satellite")
        hall = peer("hall", hall_rig.env, "satellite")
        everyone = [hub, kitchen, hall]
        try:
            kitchen.wait_listening()
            hall.wait_listening()

            def sites() -> dict:
                return hub.health()[0]["details"]["bridge"]["sites"] if hub.url else {}

            _wait(
                lambda: all(sites().get(s, {}).get("status") == "online" for s in ("kitchen", "hall")),
                "the hub sees both rooms online",
                everyone,
            )
            body, _ = hub.health()
            assert body["status"] == "ok" and body["state"] == "serving", body
            assert "voice" not in body["modules"] and {"mind", "memory", "bridge"} <= set(body["modules"])

            # 1. Told in the kitchen: answered in the kitchen, not in the hall.
            kitchen_rig.play_into_mic(tmp_path / "anna.wav")
            _wait(lambda: _counts(kitchen)["spoken"] >= 1, "the kitchen answers", everyone)
            # The broker dies (SIGKILL) and comes back between two turns: the peers reconnect.
            broker.kill()
            broker.start()
            _wait(
                lambda: (
                    all(sites().get(s, {}).get("status") == "online" for s in ("kitchen", "hall"))
                    and hub.health()[0]["details"]["bridge"]["connected"]
                ),
                "the peers are back on the broker",
                everyone,
            )
            # 2. Asked in the hall: recalled, answered in the hall.
            hall_rig.play_into_mic(tmp_path / "question.wav")
            _wait(lambda: _counts(hall)["spoken"] >= 1, "the hall answers", everyone)
            assert _counts(kitchen)["spoken"] == 1, "the hall's question is not answered in the kitchen"

            # 3. One utterance in both rooms at once: answered once, in the hall.
            players = [
                threading.Thread(target=rig.play_into_mic, args=(tmp_path / name,))
                for rig, name in ((kitchen_rig, "kitchen-hears.wav"), (hall_rig, "hall-hears.wav"))
            ]
            for t in players:
                t.start()
            for t in players:
                t.join()
            _wait(lambda: _counts(hall)["spoken"] >= 2, "the hall answers the utterance both rooms heard", everyone)
            _wait(lambda: _counts(kitchen)["turn"] >= 2, "the kitchen heard it too", everyone)
            time.sleep(3.0)  # no second answer comes
            counts = {name: _counts(p) for name, p in (("kitchen", kitchen), ("hall", hall))}
            status = hub.health()[0]["details"]["bridge"]
            stopped = [p.stop() for p in (kitchen, hall, hub)]
        finally:
            for p in everyone:
                p.kill()

    assert counts["kitchen"]["spoken"] == 1 and counts["hall"]["spoken"] == 2, counts
    assert all(code == 0 for code, _ in stopped), stopped
    for p in everyone:  # each said when the broker went and when it was back
        said = " ".join(p.lines)
        assert "no broker at" in said and "the broker is back" in said, p.lines[-20:]
    for site in ("kitchen", "hall"):
        assert status["sites"][site]["rtt_ms"] is not None and status["sites"][site]["last_scene"], status

    hub_scenes = _scenes(tmp_path / "hub-rec")
    turns = [s for s in hub_scenes if s["kind"] == "turn"]
    replies = [s for s in hub_scenes if s["kind"] == "reply"]
    assert len(turns) == 3 and len(replies) == 3, [(s["kind"], s.get("text")) for s in hub_scenes]
    assert "anna" in turns[0]["text"].lower() and "name" in turns[1]["text"].lower()
    assert "Anna" in replies[1]["text"], replies[1]["text"]  # one memory: told in the kitchen, recalled in the hall
    (choice,) = [s for s in hub_scenes if s["kind"] == "room.choice"]
    assert choice["room"]["room"] == "hall", choice["room"]
    heard = {h["site"]: h for h in choice["room"]["heard"]}
    assert heard["hall"]["snr_db"] > heard["kitchen"]["snr_db"] + 6, heard
    assert turns[2]["id"] == heard["hall"]["scene_id"]

    def spoken_texts(site: str) -> list[str]:
        return [s["text"] for s in _scenes(tmp_path / f"{site}-rec") if s["kind"] == "spoken"]

    assert len(spoken_texts("kitchen")) == 1 and len(spoken_texts("hall")) == 2
    assert "Anna" in spoken_texts("hall")[0], spoken_texts("hall")
    kitchen_scenes = _scenes(tmp_path / "kitchen-rec")
    assert [s["room"]["room"] for s in kitchen_scenes if s["kind"] == "room.choice"] == ["hall"]
