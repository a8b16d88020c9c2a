"""The vision module on real photographs (scikit-image's ``skimage.data``) and on videos built
from them: dominant colours against colours checked by eye, lexemes and modes from
``assets/vision.toml``, one face on the astronaut, motion and the change gate on video,
error scenes for unreadable files and a camera that is not there."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from module_harness import run_module

from agent.errors import exit_code
from agent.module import ModuleConfigError
from agent.parts import Request
from agent.scene import Scene
from agent.sight import Sight
from modules.vision.colors import hex_to_lab
from modules.vision.frame import analyse_frame
from modules.vision.lexemes import parse_table, vision_table
from modules.vision.module import VisionModule
from modules.vision.options import VisionOptions

#: reference colours checked by eye: the median sRGB of a patch of each photograph that is
#: all one thing (rows, columns of skimage.data's picture), viewed side by side with the patch.
#:   coffee[20:80, 10:70]      the dark brown of the shadowed wooden table  → #21150C
#:   rocket[20:80, 250:350]    the navy dusk sky                            → #1F2E4D
#:   astronaut[380:440, 60:120] the orange of the space suit                → #D65A36
COFFEE_DARK_BROWN, ROCKET_SKY, ASTRONAUT_SUIT = "#21150C", "#1F2E4D", "#D65A36"


def bgr(name: str) -> np.ndarray:
    """A skimage.data photograph as OpenCV's 8-bit BGR."""
    image = getattr(skimage.data, name)()
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR if image.ndim == 3 else cv2.COLOR_GRAY2BGR)


def delta_e(a: str, b: str) -> float:
    """CIE76 ΔE*ab between two #RRGGBB colours."""
    return float(np.linalg.norm(hex_to_lab(a) - hex_to_lab(b)))


def nearest(sight: Sight, ref: str) -> tuple[int, float]:
    """(index among the dominant colours, ΔE) of the colour nearest ``ref``."""
    distances = [delta_e(c, ref) for c in sight.dominant_colors]
    return int(np.argmin(distances)), min(distances)


# --- one picture ---------------------------------------------------------------------------


def test_dominant_colours_of_real_photographs_match_colours_checked_by_eye() -> None:
    o = VisionOptions()
    rocket = analyse_frame(bgr("rocket"), o)
    assert delta_e(rocket.dominant_colors[0], ROCKET_SKY) < 10  # the sky is the most dominant colour
    assert rocket.color_shares[0] > 0.3 and sum(rocket.color_shares) == pytest.approx(1.0, abs=1e-3)
    coffee = analyse_frame(bgr("coffee"), o)
    index, error = nearest(coffee, COFFEE_DARK_BROWN)
    assert error < 12 and coffee.color_shares[index] > 0.1
    _, suit_error = nearest(analyse_frame(bgr("astronaut"), o), ASTRONAUT_SUIT)
    assert suit_error < 10
    assert len(coffee.dominant_colors) == o.colors and coffee.color_shares == sorted(coffee.color_shares, reverse=True)


def test_measures_of_real_photographs() -> None:
    o = VisionOptions()
    rocket, coffee, camera, moon = (analyse_frame(bgr(n), o) for n in ("rocket", "coffee", "camera", "moon"))
    assert (rocket.width_px, rocket.height_px) == (640, 427)
    assert rocket.brightness < 0.3 < coffee.brightness < 0.6
    assert camera.colorfulness == pytest.approx(0.0, abs=0.5) and coffee.colorfulness > 59  # grey vs quite colourful
    assert coffee.warmth > 30 and rocket.warmth < -3 and abs(camera.warmth) < 0.5
    assert moon.contrast < 0.07 < camera.contrast
    assert 0.0 < moon.edge_density < 0.01 < camera.edge_density < 0.1
    assert rocket.motion is None and rocket.t_s is None


def test_the_astronaut_has_one_face_and_the_others_none() -> None:
    o = VisionOptions()
    assert analyse_frame(bgr("astronaut"), o).faces == 1
    assert [analyse_frame(bgr(n), o).faces for n in ("coffee", "chelsea", "rocket", "moon")] == [0, 0, 0, 0]
    assert analyse_frame(bgr("astronaut"), VisionOptions(faces=False)).faces is None


def test_lexemes_core_and_mode_from_the_table() -> None:
    table, o = vision_table(), VisionOptions()
    lexemes, core, mode, register = table.describe(analyse_frame(bgr("rocket"), o))
    assert core == "dark+cold" and mode == "gloomy" and register == "archetypal"
    lexemes, core, mode, _ = table.describe(analyse_frame(bgr("camera"), o))
    assert {"grey", "muted", "stark"} <= set(lexemes) and "warm" not in lexemes and mode == "stark"
    lexemes, core, mode, _ = table.describe(analyse_frame(bgr("astronaut"), o))
    assert core == "face+warm+vivid" and mode == "lively"
    lexemes, core, mode, _ = table.describe(Sight(brightness=0.1, warmth=-20.0, motion=0.001, colorfulness=5.0))
    assert core == "dark+cold+still"  # the seed's core


def test_a_broken_table_or_option_is_refused_by_name() -> None:
    with pytest.raises(ModuleConfigError, match=r"lexeme\[0\]\.when\.hue: unknown feature"):
        parse_table({"lexeme": [{"name": "red", "when": {"hue": [0, 1]}}]}, "t.toml")
    with pytest.raises(ModuleConfigError, match=r"mode\[0\]\.register"):
        parse_table({"mode": [{"name": "x", "register": "loud", "when": {}}]}, "t.toml")
    with pytest.raises(ModuleConfigError, match=r"modules\.vision\.colours"):
        VisionModule({"colours": 5})
    with pytest.raises(ModuleConfigError, match=r"modules\.vision\.colors = 40"):
        VisionModule({"colors": 40})


def test_a_sight_scene_survives_json_and_refuses_a_bad_colour() -> None:
    sight = analyse_frame(bgr("chelsea"), VisionOptions())
    scene = Scene(channel="vision", kind="sight", sight=sight, color=sight.dominant_colors[0])
    assert Scene.from_json(scene.to_json()) == scene
    data = scene.to_dict()
    data["sight"]["dominant_colors"][0] = "brown"
    with pytest.raises(ValueError, match=r"scene\.sight\.dominant_colors\[0\]"):
        Scene.from_dict(data)


# --- on the bus ------------------------------------------------------------------------------


async def _run(scenes: list[Scene], until: Callable[[Scene], bool], **options) -> list[Scene]:
    """Every scene a VisionModule (``options``) publishes until one ``until`` accepts."""
    seen = await run_module(VisionModule(options), scenes, until, timeout_s=60)
    return [s for s in seen if s.kind not in ("look.file",)]


def _look(path: Path | str, **options) -> list[Scene]:
    request = Scene(channel="vision", kind="look.file", request=Request(path=str(path)))
    return asyncio.run(_run([request], lambda s: s.kind in ("done", "error"), **options))


def test_a_picture_gives_one_sight_scene_then_done(tmp_path: Path) -> None:
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), bgr("astronaut"))
    sight, done = _look(path)
    assert (sight.channel, sight.kind, sight.source) == ("vision", "sight", str(path))
    assert sight.sight.faces == 1 and sight.color == sight.sight.dominant_colors[0]
    assert sight.core == "face+warm+vivid" and sight.mode == "lively" and sight.register == "emotional"
    assert "vision.analyse" in [h.stage for h in sight.hops]
    assert done.kind == "done" and done.result.count == 1 and Scene.from_json(sight.to_json()) == sight


def test_unreadable_and_missing_files_give_error_scenes(tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    (error,) = _look(bad)
    assert (error.kind, error.error.reason, error.error.subject) == ("error", "input.unreadable", str(bad))
    assert str(bad) in error.error.message and exit_code(error.error.reason) == 2
    (error,) = _look(tmp_path / "nowhere.jpg")
    assert error.error.reason == "input.missing"
    request = Scene(channel="vision", kind="look.file")
    (error,) = asyncio.run(_run([request], lambda s: s.kind == "error"))
    assert error.error.reason == "input.bad-request"


@pytest.mark.parametrize("camera", ["/dev/video-none", "57"])
def test_a_camera_that_is_not_there_gives_device_missing(camera: str) -> None:
    (error,) = asyncio.run(_run([], lambda s: s.kind == "error", camera=camera))
    assert error.error.reason == "device.missing" and exit_code(error.error.reason) == 3
    assert camera in error.error.message and error.error.subject == camera


# --- video -----------------------------------------------------------------------------------

FPS = 10.0
SIZE = (320, 240)


def _write_video(path: Path, frames: list[np.ndarray]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def _still(name: str, seconds: float) -> list[np.ndarray]:
    frame = cv2.resize(bgr(name), SIZE, interpolation=cv2.INTER_AREA)
    return [frame] * round(seconds * FPS)


def _pan(name: str, seconds: float, step_px: int = 8) -> list[np.ndarray]:
    """A window of SIZE sliding right across the photograph, ``step_px`` per frame."""
    image = bgr(name)
    scale = SIZE[1] / image.shape[0]
    image = cv2.resize(image, (round(image.shape[1] * scale), SIZE[1]), interpolation=cv2.INTER_AREA)
    n = round(seconds * FPS)
    room = image.shape[1] - SIZE[0]
    return [image[:, x : x + SIZE[0]].copy() for x in np.linspace(0, room, n).astype(int)]


def _crossfade(a: str, b: str, seconds: float) -> list[np.ndarray]:
    first, second = _still(a, 0.1)[0], _still(b, 0.1)[0]
    n = round(seconds * FPS)
    return [cv2.addWeighted(first, 1 - i / (n - 1), second, i / (n - 1), 0) for i in range(n)]


def test_a_still_video_gives_one_scene_or_one_per_max_interval(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "still.avi", _still("chelsea", 3.0))
    scenes = _look(path)
    assert [s.kind for s in scenes] == ["sight", "done"] and scenes[-1].result.count == 1
    assert scenes[0].sight.t_s == 0.0 and scenes[0].sight.motion is None
    scenes = _look(path, max_interval_s=1.0)
    sights = [s for s in scenes if s.kind == "sight"]
    assert [s.sight.t_s for s in sights] == [0.0, 1.0, 2.0]
    assert all(s.sight.motion < 0.002 and "still" in s.lexemes for s in sights[1:])


def test_a_panning_and_crossfading_video_gives_scenes_on_change_with_motion(tmp_path: Path) -> None:
    frames = (
        _still("astronaut", 1.0) + _pan("coffee", 2.0) + _crossfade("coffee", "rocket", 1.0) + _still("rocket", 1.0)
    )
    path = _write_video(tmp_path / "pan.avi", frames)
    scenes = _look(path, min_interval_s=0.3)
    sights = [s for s in scenes if s.kind == "sight"]
    assert scenes[-1].result.count == len(sights)
    times = [s.sight.t_s for s in sights]
    assert times[0] == 0.0 and all(b - a >= 0.3 - 1e-6 for a, b in zip(times, times[1:]))
    assert 4 <= len(sights) <= 12  # on change, not 50 frames
    assert sights[0].sight.faces == 1  # the astronaut
    assert all(s.sight.motion > 0.01 for s in sights[1:]) and any("moving" in s.lexemes for s in sights)
    assert delta_e(sights[-1].color, ROCKET_SKY) < 15  # ends on the rocket's sky
    assert max(times) < 4.5  # nothing after the rocket stands still
