"""The tactile module on real recordings (tests/data/tactile, made by its generate.py):
IMU shakes and tilts, touch taps, long presses and swipes, interrupts while the agent
speaks, gestures out to an actuator, a UNIX socket source, and bad lines as error scenes."""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DATA
from module_harness import run_module

from agent.bus import SceneBus
from agent.codec import SchemaError
from agent.module import ModuleConfigError
from agent.parts import Request
from agent.scene import Scene
from agent.touch import Touch
from modules.tactile import TactileModule
from modules.tactile.evdev_input import ABS_X, ABS_Y, BTN_TOUCH, EV_ABS, EV_KEY, EV_SYN, SYN_REPORT, EvdevTouchMapper
from modules.tactile.floor import Speaking
from modules.tactile.stream import EventStream
from modules.tactile.thresholds import load_thresholds
from modules.tactile.touches import TouchRecogniser

TACTILE = DATA / "tactile"


def _recognise(name: str) -> list:
    stream = EventStream(load_thresholds(), name)
    found = []
    for line in (TACTILE / name).read_text().splitlines():
        found += stream.feed_line(line)
    return found + stream.finish()


async def _session(
    options: dict, scenes: list[Scene], until: Callable[[Scene], bool]
) -> tuple[list[Scene], TactileModule]:
    """Every scene on the bus until one ``until`` accepts, around a TactileModule, and the module."""
    module = TactileModule(options)
    return await run_module(module, scenes, until, timeout_s=10), module


def _file_request(path: Path) -> Scene:
    return Scene(channel="tactile", kind="touch.file", request=Request(path=str(path)))


def _is_done(scene: Scene) -> bool:
    return scene.kind == "done"


# --- motion -------------------------------------------------------------------------------


def test_a_4_hz_shake_of_15_ms2_is_one_shake_with_its_reversals_and_peak() -> None:
    (shake,) = _recognise("shake.jsonl")
    assert shake.name == "shake" and shake.touch.kind == "shake"
    # 2 s at 4 Hz: 16 half-cycles beyond ±10 m/s², 15 reversals between them.
    assert shake.touch.reversals == 15
    assert 14.0 <= shake.touch.peak_accel_ms2 <= 17.0
    assert shake.touch.duration_s == pytest.approx(1.92, abs=0.05)
    assert (shake.t_start, shake.t_end) == pytest.approx((1.04, 2.96), abs=0.03)
    assert shake.touch.peak_gyro_rads == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("name", ["still.jsonl", "walk.jsonl"])
def test_still_and_walking_samples_give_no_gesture(name: str) -> None:
    assert _recognise(name) == []


def test_a_45_degree_forward_tip_held_is_a_tilt_forward() -> None:
    (tilt,) = _recognise("tilt.jsonl")
    assert tilt.name == "tilt forward" and tilt.touch.direction == "forward"
    # 30° is crossed at ~1.2 s of the ramp (1.0–1.5 s), lagged by the 0.2 s gravity filter;
    # held 0.3 s, by then the filtered gravity has turned ~42° of the 45°.
    assert 35.0 <= tilt.touch.tilt_deg <= 46.0
    assert tilt.touch.duration_s == pytest.approx(0.3, abs=0.011)
    assert 1.3 <= tilt.t_start <= 1.6


def test_tilting_sideways_names_the_edge_that_went_down() -> None:
    stream = EventStream(load_thresholds(), "side")
    found = []
    for i in range(300):
        t = i / 100
        angle = math.radians(60.0) if t >= 1.0 else 0.0  # right edge down: gravity gains −x
        line = {"type": "imu", "t_s": t, "accel_ms2": [-9.81 * math.sin(angle), 0.0, 9.81 * math.cos(angle)]}
        found += stream.feed_line(json.dumps(line))
    assert [f.name for f in found] == ["tilt right"]
    assert found[0].touch.tilt_deg == pytest.approx(60.0, abs=6.0)


# --- touch --------------------------------------------------------------------------------


def test_touch_sequences_give_tap_long_press_and_swipes_with_direction() -> None:
    found = _recognise("touches.jsonl")
    assert [f.name for f in found] == ["tap", "long press", "swipe left", "swipe up"]
    tap, press, left, up = (f.touch for f in found)
    assert (tap.duration_s, tap.distance_px, tap.x_px, tap.y_px) == pytest.approx((0.12, math.hypot(3, 1), 100, 200))
    assert (press.kind, press.duration_s) == ("long-press", pytest.approx(0.8))
    assert (left.direction, left.distance_px, left.duration_s) == ("left", pytest.approx(math.hypot(220, 10)), 0.25)
    assert (up.direction, up.distance_px) == ("up", pytest.approx(math.hypot(5, 180)))


def test_touch_thresholds_at_their_edges() -> None:
    th = load_thresholds().touch
    rec = TouchRecogniser(th)

    def one(t_up: float, x_up: float, y_up: float = 0.0):
        from modules.tactile.events import TouchEvent

        rec.feed(TouchEvent("touch", "down", 10.0, 0.0, 0.0))
        found = rec.feed(TouchEvent("touch", "up", 10.0 + t_up, x_up, y_up))
        return found.name if found else None

    assert (th.tap_max_s, th.slop_px, th.long_press_min_s, th.swipe_min_px) == (0.25, 10.0, 0.5, 100.0)
    assert one(0.24, 9.9) == "tap"
    assert one(0.24, 10.0) is None  # moved a slop, not a swipe's distance
    assert one(0.3, 0.0) is None  # between a tap and a long press
    assert one(0.5, 0.0) == "long press"
    assert one(0.5, 0.0, 100.0) == "swipe down"
    assert one(0.5, 0.0, 99.0) is None
    assert one(1.5, 300.0) is None  # too slow: a drag


# --- the module on a bus ------------------------------------------------------------------


def test_a_file_request_publishes_gesture_scenes_then_done_with_the_count() -> None:
    request = _file_request(TACTILE / "touches.jsonl")
    seen, _ = asyncio.run(_session({}, [request], _is_done))
    gestures = [s for s in seen if s.kind == "gesture"]
    assert [s.gesture for s in gestures] == ["tap", "long press", "swipe left", "swipe up"]
    assert [s.core for s in gestures] == ["touch+short", "touch+hold", "touch+sweep+left", "touch+sweep+up"]
    assert [s.mode for s in gestures] == ["bright", "calm", "excited", "excited"]
    assert all(s.channel == "tactile" and s.parents == [request.id] for s in gestures)
    assert gestures[0].source == str(TACTILE / "touches.jsonl") and gestures[0].t_end == 0.12
    assert seen[-1].result.count == 4 and seen[-1].parents == [request.id]
    assert not any(s.kind in ("interrupt", "error") for s in seen)
    # The scene survives its JSON form, touch part included.
    assert Scene.from_json(gestures[2].to_json()) == gestures[2]


def test_a_shake_file_gives_a_shake_scene() -> None:
    seen, _ = asyncio.run(_session({}, [_file_request(TACTILE / "shake.jsonl")], _is_done))
    (shake,) = [s for s in seen if s.kind == "gesture"]
    assert (shake.gesture, shake.core, shake.mode, shake.touch.reversals) == ("shake", "shake+agitation", "tense", 15)


def test_malformed_lines_give_error_scenes_and_are_skipped() -> None:
    request = _file_request(TACTILE / "malformed.jsonl")
    seen, _ = asyncio.run(_session({}, [request], _is_done))
    errors = [s for s in seen if s.kind == "error"]
    assert len(errors) == 7
    assert all(e.error.reason == "input.malformed" and e.error.exit_code == 2 for e in errors)
    assert all(e.parents == [request.id] for e in errors)
    messages = [e.error.message for e in errors]
    assert "malformed.jsonl:2: not valid JSON" in messages[0]
    assert messages[1].endswith("malformed.jsonl:3.accel_ms2[0]: expected a finite number, got nan")
    assert "out of range" in messages[2] and "not one of touch, imu, gesture, pose" in messages[3]
    assert messages[4].endswith(":6.y_px: required field is missing")
    assert "without a down" in messages[5] and "expected a JSON object" in messages[6]
    assert [s.gesture for s in seen if s.kind == "gesture"] == ["tap"]
    assert seen[-1].kind == "done" and seen[-1].result.count == 1


def test_a_missing_file_is_an_input_missing_error() -> None:
    seen, _ = asyncio.run(_session({}, [_file_request(TACTILE / "nope.jsonl")], lambda s: s.kind == "error"))
    assert seen[-1].error.reason == "input.missing" and seen[-1].error.exit_code == 2


def _tap_file(folder: Path) -> Path:
    path = folder / "tap.jsonl"
    lines = [
        {"type": "touch", "phase": "down", "t_s": 0.0, "x_px": 5, "y_px": 5},
        {"type": "touch", "phase": "up", "t_s": 0.1, "x_px": 6, "y_px": 5},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_tap_while_a_reply_is_spoken_interrupts_and_not_when_idle(tmp_path: Path) -> None:
    tap = _tap_file(tmp_path)
    reply = Scene(channel="voice", kind="reply", text="Let me tell you a long story.")
    first, second, third = _file_request(tap), _file_request(tap), _file_request(tap)
    spoken = reply.derive(kind="spoken", channel="voice")
    counted: list[Scene] = []

    def third_done(scene: Scene) -> bool:
        if scene.kind == "done":
            counted.append(scene)
        return len(counted) == 3

    # idle → tap (no interrupt); reply → tap (interrupt); spoken → tap (no interrupt).
    seen, _ = asyncio.run(_session({}, [first, reply, second, spoken, third], third_done))
    interrupts = [s for s in seen if s.kind == "interrupt"]
    assert len(interrupts) == 1
    (interrupt,) = interrupts
    gesture = next(s for s in seen if s.kind == "gesture" and s.parents == [second.id])
    assert interrupt.channel == "tactile" and interrupt.parents == [gesture.id, reply.id]
    assert (interrupt.gesture, interrupt.touch.kind) == ("tap", "tap")
    assert len([s for s in seen if s.kind == "gesture"]) == 3


def test_an_error_after_a_reply_ends_the_speaking() -> None:
    clock = [0.0]
    floor = Speaking(timeout_s=60.0, clock=lambda: clock[0])
    floor.started("r1")
    assert floor.speaking and floor.follows(["r1"]) and not floor.follows(["x"])
    assert floor.ended(["r1"]) == ["r1"] and not floor.speaking
    floor.started("r2")
    clock[0] = 61.0  # nothing followed it: forgotten
    assert not floor.speaking


def test_the_gestures_of_a_reply_are_written_to_the_actuator_file(tmp_path: Path) -> None:
    out = tmp_path / "actuator.jsonl"
    nod = Scene(channel="voice", kind="reply", text="Yes.", gesture="nod")
    plain = Scene(channel="voice", kind="reply", text="Fine.")
    nod_spoken = nod.derive(kind="spoken", channel="voice", gesture="nod")  # its reply's: not again
    wave_spoken = plain.derive(kind="spoken", channel="voice", gesture="wave")
    marker = _file_request(_tap_file(tmp_path))
    seen, _ = asyncio.run(_session({"actuator": str(out)}, [nod, plain, nod_spoken, wave_spoken, marker], _is_done))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line["gesture"], line["kind"], line["scene"]) for line in lines] == [
        ("nod", "reply", nod.id),
        ("wave", "spoken", wave_spoken.id),
    ]
    assert lines[0]["text"] == "Yes." and lines[1]["parents"] == [plain.id]
    assert not any(s.kind == "error" for s in seen)


async def _bare(options: dict, work) -> None:
    """Start a TactileModule on a bus with ``options``, run ``work(bus)``, stop both."""
    bus = SceneBus()
    module = TactileModule(options)
    bus.subscribe("tactile", module.handle, module.wants)
    await bus.start()
    try:
        await module.start(bus)
        await work(bus)
    finally:
        await bus.stop()
        await module.stop()


def test_an_actuator_socket_receives_the_gesture_and_a_missing_one_is_device_missing() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        path = f"{folder}/act.sock"
        received: list[bytes] = []

        async def main() -> None:
            got = asyncio.Event()

            async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                received.append(await reader.readline())
                got.set()
                writer.close()

            async def work(bus: SceneBus) -> None:
                await bus.publish(Scene(channel="voice", kind="reply", text="Hi.", gesture="wave"), source="mind")
                await asyncio.wait_for(got.wait(), 10)

            async with await asyncio.start_unix_server(serve, path=path):
                await _bare({"actuator": f"unix:{path}"}, work)

        asyncio.run(main())
    line = json.loads(received[0])
    assert (line["gesture"], line["kind"], line["text"]) == ("wave", "reply", "Hi.")

    missing = f"unix:{tempfile.gettempdir()}/no-such-actuator-{id(received)}.sock"
    reply = Scene(channel="voice", kind="reply", text="Hi.", gesture="wave")
    seen, _ = asyncio.run(_session({"actuator": missing}, [reply], lambda s: s.kind == "error"))
    assert seen[-1].error.reason == "device.missing" and seen[-1].error.exit_code == 3
    assert seen[-1].parents == [reply.id]


def test_a_unix_socket_source_gives_gesture_scenes() -> None:
    lines = (TACTILE / "touches.jsonl").read_text().encode() + b"{broken\n"  # 21 good lines, then line 22
    got: list[Scene] = []
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        path = f"{folder}/touch.sock"

        async def main() -> None:
            done = asyncio.Event()

            async def watch(scene: Scene) -> None:
                got.append(scene)
                if scene.kind == "error":
                    done.set()

            async def work(bus: SceneBus) -> None:
                bus.subscribe("watch", watch)
                _, writer = await asyncio.open_unix_connection(path)
                writer.write(lines)
                await writer.drain()
                writer.close()
                await writer.wait_closed()
                await asyncio.wait_for(done.wait(), 10)

            await _bare({"input": f"unix:{path}"}, work)
            assert not Path(path).exists()  # the module removed its socket

        asyncio.run(main())
    assert [s.gesture for s in got if s.kind == "gesture"] == ["tap", "long press", "swipe left", "swipe up"]
    assert got[0].source == f"unix:{path}#1" and got[0].parents == []
    assert got[-1].error.reason == "input.malformed" and "#1:22: not valid JSON" in got[-1].error.message


# --- options, devices, the touch part --------------------------------------------------------


def test_a_wrong_option_is_refused_by_name() -> None:
    with pytest.raises(ModuleConfigError, match="modules.tactile.actutor: unknown field"):
        TactileModule({"actutor": "x"})
    with pytest.raises(ModuleConfigError, match="speaking_timeout_s"):
        TactileModule({"speaking_timeout_s": 0.0})


def test_a_configured_device_that_is_not_here_is_a_device_missing_error_scene() -> None:
    seen, _ = asyncio.run(_session({"device": "/dev/input/no-such-event"}, [], lambda s: s.kind == "error"))
    assert seen[-1].error.reason == "device.missing" and seen[-1].error.exit_code == 3
    assert "/dev/input/no-such-event" in seen[-1].error.message


def test_a_configured_file_is_read_on_start() -> None:
    seen, _ = asyncio.run(_session({"input": str(TACTILE / "tilt.jsonl")}, [], lambda s: s.kind == "gesture"))
    assert seen[-1].gesture == "tilt forward" and seen[-1].core == "tilt+forward" and seen[-1].parents == []


def test_kernel_touch_events_map_to_a_tap() -> None:
    mapper = EvdevTouchMapper()
    events = [
        (EV_ABS, ABS_X, 120, 5.0),
        (EV_ABS, ABS_Y, 340, 5.0),
        (EV_KEY, BTN_TOUCH, 1, 5.0),
        (EV_SYN, SYN_REPORT, 0, 5.0),
        (EV_ABS, ABS_X, 122, 5.05),
        (EV_SYN, SYN_REPORT, 0, 5.05),
        (EV_KEY, BTN_TOUCH, 0, 5.1),
        (EV_SYN, SYN_REPORT, 0, 5.1),
        (EV_SYN, SYN_REPORT, 0, 5.2),  # nothing changed: nothing
    ]
    touches = [t for t in (mapper.feed(*e) for e in events) if t is not None]
    assert [(t.phase, t.t_s, t.x_px, t.y_px) for t in touches] == [
        ("down", 5.0, 120, 340),
        ("move", 5.05, 122, 340),
        ("up", 5.1, 122, 340),
    ]
    stream = EventStream(load_thresholds(), "/dev/input/event3")
    found = [g for t in touches for g in stream.feed(t)]
    assert [g.name for g in found] == ["tap"] and found[0].touch.duration_s == pytest.approx(0.1)


def test_the_touch_part_refuses_impossible_values() -> None:
    with pytest.raises(SchemaError, match="scene.touch.tilt_deg"):
        Scene.from_dict(
            {"schema": 2, "channel": "tactile", "kind": "gesture", "touch": {"kind": "tilt", "tilt_deg": 200}}
        )
    with pytest.raises(SchemaError, match="a tap has no direction"):
        Scene.from_dict(
            {"schema": 2, "channel": "tactile", "kind": "gesture", "touch": {"kind": "tap", "direction": "up"}}
        )
    touch = Touch(kind="shake", duration_s=1.9, peak_accel_ms2=15.6, reversals=15)
    scene = Scene(channel="tactile", kind="gesture", gesture="shake", touch=touch)
    assert Scene.from_json(scene.to_json()).touch == touch
