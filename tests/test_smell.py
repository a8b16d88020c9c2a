"""SmellNet, the stub electronic nose: readings → smell scenes through the rule table.

Data: tests/data/smell/ (README.md there says what each line is and what it should smell of).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from module_harness import run_module

from agent.bus import SceneBus
from agent.codec import from_dict
from agent.errors import SchemaError
from agent.module import ModuleConfigError
from agent.odor import Odor
from agent.parts import Request, Result
from agent.scene import Scene
from modules.smell import SmellNet
from modules.smell.rules import rule_table

SMELL = Path(__file__).resolve().parent / "data" / "smell"
KITCHEN = SMELL / "kitchen.jsonl"
MIXED = SMELL / "mixed.jsonl"


async def _run(scenes: list[Scene], until: Callable[[Scene], bool], **options) -> list[Scene]:
    """Every scene on the bus until one ``until`` accepts, around a SmellNet (``options``)."""
    return await run_module(SmellNet(options), scenes, until, timeout_s=10)


def _sniff(path: Path | str | None, **options) -> tuple[Scene, list[Scene]]:
    request = Scene(channel="smell", kind="sniff.file", request=Request(path=None if path is None else str(path)))

    def until(scene: Scene) -> bool:
        return scene.kind == "done" or (scene.kind == "error" and scene.error.reason != "input.malformed")

    seen = asyncio.run(_run([request], until, **options))
    return request, seen


# --- files ------------------------------------------------------------------------------------


def test_a_kitchen_morning_smells_of_what_its_readings_say() -> None:
    request, seen = _sniff(KITCHEN)
    smells = [s for s in seen if s.kind == "smell"]
    assert [(s.core, s.mode) for s in smells] == [
        ("fresh", "calm"),
        ("neutral", "calm"),
        ("coffee", "comfort"),
        ("fumes", "unease"),
        ("smoke", "alarm"),
        ("smoke+damp", "alarm"),
        ("stuffy+damp", "unease"),
        ("fresh", "calm"),
        ("fresh+dry", "calm"),
        ("smoke+damp", "alarm"),
        ("stale", "unease"),
        ("smoke", "alarm"),
    ]
    assert [s.t_start for s in smells] == [60.0 * i for i in range(12)]
    assert all(s.channel == "smell" and s.parents == [request.id] and s.source == str(KITCHEN) for s in smells)
    burning = smells[5]
    assert burning.smell == "smoke and damp"
    assert burning.lexemes == ["smoke", "burning", "damp", "moisture"]
    assert burning.odor == Odor(
        voc_index=312.0, co2_ppm=880.0, humidity_pct=74.5, temperature_c=24.1, gas_resistance_ohm=7400.0
    )
    assert smells[6].smell == "stuffy air and damp" and smells[2].odor.labels == ["coffee"]
    assert smells[9].odor.labels == ["smoke", "damp"] and smells[9].odor.voc_index is None
    (done,) = [s for s in seen if s.kind == "done"]
    assert done.result == Result(count=12) and done.parents == [request.id] and done.channel == "smell"
    assert not [s for s in seen if s.kind == "error"]
    # A smell scene survives its JSON form, odor and all.
    assert Scene.from_json(burning.to_json()) == burning


def test_bad_lines_give_error_scenes_and_the_good_lines_around_them_come_through() -> None:
    request, seen = _sniff(MIXED)
    assert [s.kind for s in seen][-1] == "done"
    errors = [s for s in seen if s.kind == "error"]
    assert [s.error.subject for s in errors] == [f"{MIXED}:{n}" for n in (2, 4, 5, 7, 8, 9, 10, 11, 12, 13, 15, 17)]
    assert {s.error.reason for s in errors} == {"input.malformed"} and {s.error.exit_code for s in errors} == {2}
    assert all(s.parents == [request.id] for s in errors)
    messages = {int(s.error.subject.rsplit(":", 1)[1]): s.error.message for s in errors}
    assert "reading.voc_index: expected a finite number, got nan" in messages[2]
    assert "reading.humidity_pct: 130 % is outside 0..100 %" in messages[4]
    assert "not valid JSON" in messages[5]
    assert "reading.co2_ppm: -5 ppm is outside 0..40000 ppm" in messages[7]
    assert "reading.temperature_c: 120 °C is outside -40..85 °C" in messages[8]
    assert "reading.gas_resistance_ohm: 0 Ω must be positive" in messages[9]
    assert "reading.pm25_ugm3: unknown field" in messages[10]
    assert "at least one measure or one label" in messages[11]
    assert "must be a JSON object, got list" in messages[12]
    assert "reading.labels[0]: 'burnt toast'" in messages[13]
    assert "reading.voc_index: expected a number" in messages[15]
    assert "t_s must be a number of seconds ≥ 0" in messages[17]
    smells = [s for s in seen if s.kind == "smell"]
    assert [(s.t_start, s.core) for s in smells] == [
        (0.0, "fresh"),
        (120.0, "smoke"),
        (300.0, "stuffy+damp"),
        (720.0, "fresh"),
    ]
    # In file order: each error comes where its line is.
    order = [s.t_start if s.kind == "smell" else s.error.subject.rsplit(":", 1)[1] for s in seen[:-1]]
    assert order[:4] == [0.0, "2", 120.0, "4"]
    (done,) = [s for s in seen if s.kind == "done"]
    assert done.result.count == 4


def test_a_missing_file_and_a_request_without_a_file_are_refused_as_input_errors(tmp_path) -> None:
    _, seen = _sniff(tmp_path / "nope.jsonl")
    assert [(s.kind, s.error.reason, s.error.exit_code) for s in seen] == [("error", "input.missing", 2)]
    _, seen = _sniff(None)
    assert [(s.kind, s.error.reason) for s in seen] == [("error", "input.bad-request")]
    binary = tmp_path / "noise.jsonl"
    binary.write_bytes(b'{"voc_index": 10}\n\xff\xfe\x00')
    _, seen = _sniff(binary)
    assert [(s.kind, s.error.reason) for s in seen] == [("error", "input.unreadable")]


# --- live sources -----------------------------------------------------------------------------


def test_a_serial_port_that_does_not_exist_is_device_missing_with_exit_code_3() -> None:
    port = "/dev/ttyNOSUCHSMELL0"
    request = Scene(channel="smell", kind="sniff.live", request=Request(path=f"serial:{port}"))
    seen = asyncio.run(_run([request], lambda s: s.kind == "error"))
    (error,) = seen
    assert (error.error.reason, error.error.exit_code, error.error.subject) == ("device.missing", 3, f"serial:{port}")
    assert error.parents == [request.id] and port in error.error.message
    # Configured as the source, it is opened on start, and fails the same way without a crash.
    seen = asyncio.run(_run([], lambda s: s.kind == "error", source=f"serial:{port}"))
    assert [(s.kind, s.error.reason) for s in seen] == [("error", "device.missing")]


def test_stdin_publishes_on_change_only_and_holds_back_repeated_errors(monkeypatch) -> None:
    lines = KITCHEN.read_text().splitlines()
    fresh, smoke = lines[0], lines[4]
    feed = [fresh, fresh, fresh, "not json", smoke, smoke, "{]", fresh, ""]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(feed) + "\n"))
    seen = asyncio.run(_run([], lambda s: s.kind == "done", source="stdin", min_interval_s=3600.0))
    assert [s.kind for s in seen] == ["sniffing", "smell", "error", "smell", "smell", "done"]
    sniffing = seen[0]
    assert sniffing.result == Result(device="stdin")
    assert [s.core for s in seen if s.kind == "smell"] == ["fresh", "smoke", "fresh"]
    assert seen[2].error.subject == "stdin:4"  # the second bad line (7) is held back
    assert seen[-1].result == Result(device="stdin", count=3)
    assert all(s.parents == [sniffing.id] for s in seen[1:])


def test_with_no_interval_every_reading_of_a_live_source_comes_through(monkeypatch) -> None:
    text = KITCHEN.read_text()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    request = Scene(channel="smell", kind="sniff.live", request=Request(path="stdin"))
    seen = asyncio.run(_run([request], lambda s: s.kind == "done", min_interval_s=0.0))
    assert [s.kind for s in seen].count("smell") == 12 and seen[-1].result.count == 12
    assert seen[0].parents == [request.id]


# --- the reading, the table, the options ------------------------------------------------------


def test_the_odor_part_refuses_impossible_values_by_field() -> None:
    assert from_dict(Odor, {"humidity_pct": 100, "co2_ppm": 40000, "temperature_c": -40}, "o").humidity_pct == 100.0
    for field, value in [("humidity_pct", 100.1), ("co2_ppm", 40001), ("temperature_c", 85.5), ("voc_index", -1)]:
        with pytest.raises(SchemaError) as caught:
            from_dict(Odor, {field: value}, "o")
        assert caught.value.field == f"o.{field}"
    with pytest.raises(SchemaError, match="o.gas_resistance_ohm"):
        from_dict(Odor, {"gas_resistance_ohm": -3.0}, "o")
    with pytest.raises(SchemaError, match="at least one measure"):
        from_dict(Odor, {"labels": []}, "o")


def test_thresholds_fall_where_the_table_puts_them() -> None:
    table = rule_table()

    def core(**values) -> str:
        return table.judge(Odor(**values)).core

    assert (core(humidity_pct=69.9), core(humidity_pct=70.0)) == ("neutral", "damp")
    assert (core(co2_ppm=999), core(co2_ppm=1000), core(co2_ppm=2000)) == ("neutral", "stuffy", "stale")
    assert (core(voc_index=50.9), core(voc_index=51), core(voc_index=151)) == ("fresh", "neutral", "fumes")
    # Smoke needs the resistance to have fallen too, unless the index alone is extreme.
    assert core(voc_index=260, gas_resistance_ohm=19999) == "smoke"
    assert core(voc_index=260, gas_resistance_ohm=20000) == "fumes"
    assert core(voc_index=351, gas_resistance_ohm=150000) == "smoke"
    # A label the table does not know is its own lexeme, in the default mode.
    verdict = table.judge(Odor(labels=["lavender"], humidity_pct=75))
    assert (verdict.core, verdict.mode, verdict.lexemes, verdict.phrase) == (
        "damp+lavender",
        "unease",
        ("damp", "moisture", "lavender"),
        "damp and lavender",
    )
    # At most max_core (3) descriptors in the core; every one in the phrase.
    many = table.judge(Odor(labels=["coffee", "bread"], voc_index=400, co2_ppm=2500, humidity_pct=80))
    assert many.core == "smoke+stale+damp" and many.phrase == "smoke, stale air, damp, coffee and baking bread"


def test_a_broken_rule_table_is_refused_naming_the_rule(tmp_path) -> None:
    broken = tmp_path / "rules.toml"
    broken.write_text(
        'modes = ["calm"]\ndefault_mode = "calm"\n[fallback]\ndescriptor = "x"\n'
        '[descriptor.x]\nmode = "calm"\n[[rule]]\ndescriptor = "x"\nwhen = { pm25 = [0, 1] }\n'
    )
    with pytest.raises(ModuleConfigError, match=r"rule 1 \(x\): 'pm25' is not a reading field"):
        rule_table(str(broken))
    _, seen = _sniff(KITCHEN, rules=str(broken))
    assert [(s.kind, s.error.reason) for s in seen] == [("error", "config.invalid")]


def test_wrong_options_are_refused_by_name() -> None:
    with pytest.raises(ModuleConfigError, match="modules.smell.sorce"):
        SmellNet({"sorce": "stdin"})
    with pytest.raises(ModuleConfigError, match="modules.smell.source"):
        SmellNet({"source": "/dev/ttyUSB0"})
    with pytest.raises(ModuleConfigError, match="modules.smell.min_interval_s"):
        SmellNet({"min_interval_s": "often"})
    assert SmellNet({"source": "serial:/dev/ttyUSB0"}).o.serial_port == "/dev/ttyUSB0"


def test_the_module_says_it_is_a_stub() -> None:
    summary = SmellNet.__doc__.strip().splitlines()[0]
    assert "stub" in summary and SmellNet.name == "smell"


def test_a_serial_port_publishes_its_readings_and_a_vanished_one_is_device_missing() -> None:
    """A pseudo-terminal stands in for the sensor's USB serial port (the same tty interface)."""
    import os

    master, slave = os.openpty()
    port = os.ttyname(slave)
    lines = KITCHEN.read_text().splitlines()

    async def session() -> list[Scene]:
        bus = SceneBus()
        seen: list[Scene] = []
        smelled, failed = asyncio.Event(), asyncio.Event()

        async def watch(scene: Scene) -> None:
            seen.append(scene)
            if sum(s.kind == "smell" for s in seen) == 2:
                smelled.set()
            if scene.kind == "error":
                failed.set()

        module = SmellNet({"source": f"serial:{port}", "min_interval_s": 0.0})
        bus.subscribe("smell", module.handle, module.wants)
        bus.subscribe("watch", watch)
        await bus.start()
        try:
            await module.start(bus)
            os.write(master, (lines[0] + "\n" + lines[4] + "\n").encode())
            await asyncio.wait_for(smelled.wait(), 10)
            os.close(slave)
            os.close(master)  # the sensor is unplugged
            await asyncio.wait_for(failed.wait(), 10)
        finally:
            await bus.stop()
            await module.stop()
        return seen

    seen = asyncio.run(session())
    assert [s.kind for s in seen] == ["sniffing", "smell", "smell", "error"]
    assert [s.core for s in seen[1:3]] == ["fresh", "smoke"] and seen[1].source == f"serial:{port}"
    assert seen[1].odor.gas_resistance_ohm == 142000.0
    assert (seen[3].error.reason, seen[3].parents) == ("device.missing", [seen[0].id])
