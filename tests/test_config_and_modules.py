"""Config layers, module discovery through entry points, and the import rules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from agent.config import ConfigError, load_config, parse_override
from agent.module import Module
from agent.plugins import discover


def test_defaults_enable_voice_and_mind_with_documented_options() -> None:
    config = load_config()
    assert config.enabled("voice") and config.enabled("mind")
    assert config.module_options("voice")["asr"] == "openai-whisper"
    assert config.module_options("voice")["whisper_model"] == "tiny.en"
    assert "enabled" not in config.module_options("voice")


def test_user_file_and_overrides_win_key_by_key(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    user.write_text('[modules.voice]\nasr = "faster-whisper"\n[modules.mind]\nenabled = false\n')
    config = load_config(user, ["modules.voice.vad_threshold=0.7", "modules.voice.voice=joe"])
    voice = config.module_options("voice")
    assert voice["asr"] == "faster-whisper"  # from the user file
    assert voice["vad_threshold"] == 0.7  # from --set, read as TOML
    assert voice["voice"] == "joe"  # a bare word is a string
    assert voice["whisper_model"] == "tiny.en"  # untouched default
    assert not config.enabled("mind")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[modules.voice]\nenabled = "yes"\n', "enabled must be true or false"),
        ("[moduls.voice]\nenabled = true\n", "unknown table [moduls]"),
        ("[modules]\nvoice = 3\n", "must be a table"),
        ("[modules.voice\n", "not valid TOML"),
    ],
)
def test_a_wrong_config_is_refused_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_override_without_equals_is_refused() -> None:
    with pytest.raises(ConfigError, match="table.key=value"):
        parse_override("modules.voice.asr")


def test_modules_are_found_through_the_entry_point_group() -> None:
    plugins = discover()
    assert {"voice", "mind"} <= set(plugins)
    for name in ("voice", "mind"):
        assert plugins[name].error is None
        assert issubclass(plugins[name].cls, Module) and plugins[name].cls.name == name


@pytest.mark.slow
def test_modules_command_lists_installed_and_enabled_modules(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[modules.mind]\nenabled = false\n[modules.ghost]\nenabled = true\n")
    result = run_cli("modules", "--config", str(config))
    assert result.code == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["voice"].split()[1] == "yes" and "modules.voice:VoiceModule" in lines["voice"]
    assert lines["mind"].split()[1] == "no"
    assert "NOT INSTALLED" in lines["ghost"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_agent_never_imports_modules() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(i for i in _imports(p) if i.split(".")[0] == "modules")
        for p in (ROOT / "agent").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_modules_never_import_each_other() -> None:
    offenders = {}
    for package in (p for p in (ROOT / "modules").iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        for path in package.rglob("*.py"):
            foreign = sorted(i for i in _imports(path) if i.startswith("modules.") and i.split(".")[1] != package.name)
            if foreign:
                offenders[str(path.relative_to(ROOT))] = foreign
    assert offenders == {}


def test_no_asyncio_wait_for() -> None:
    """Python 3.11's ``asyncio.wait_for`` returns the awaited result and drops a cancellation
    that arrives as that result does: a frame loop (a frame every 32 ms) then goes on after
    it was told to stop, and ``talk`` or ``serve`` never ends (test_duplex.py shows it).
    ``async with asyncio.timeout(...)`` has no such gap."""
    calls = {}
    for path in [*(ROOT / "agent").rglob("*.py"), *(ROOT / "modules").rglob("*.py"), ROOT / "run.py"]:
        tree = ast.parse(path.read_text(), filename=str(path))
        found = [
            n.lineno
            for n in ast.walk(tree)
            if (isinstance(n, ast.Attribute) and n.attr == "wait_for")
            or (isinstance(n, ast.ImportFrom) and n.module == "asyncio" and any(a.name == "wait_for" for a in n.names))
        ]
        if found:
            calls[str(path.relative_to(ROOT))] = found
    assert calls == {}


def _marked_slow(decorators: list[ast.expr]) -> bool:
    return any("slow" in ast.unparse(d) for d in decorators)


def test_every_test_that_starts_the_cli_is_marked_slow() -> None:
    """``-m "not slow"`` is the quick run: a test that starts run.py (seconds, models) must
    carry the mark, on itself, its class or its module (``pytestmark``)."""
    unmarked = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        module_slow = any(
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
            and "slow" in ast.unparse(node.value)
            for node in tree.body
        )
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            calls = {ast.unparse(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
            if "run_cli" in calls and not (module_slow or _marked_slow(node.decorator_list)):
                unmarked.append(f"{path.name}::{node.name}")
    assert unmarked == []


def test_sigusr2_lists_the_tasks_until_the_last_of_two_sessions_on_a_loop_stops(capfd) -> None:
    """``kill -USR2`` lists the asyncio tasks of a session that will not end; a second
    session on the same loop (a bridge's rooms, a test's) stopping first must not take the
    listing away from the one still running, and the last one leaves SIGUSR2 as it was."""
    import asyncio
    import os
    import signal

    from agent.session import Session

    assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL
    config = load_config(None, [])

    async def waiting_here() -> None:
        await asyncio.sleep(30)

    async def run() -> None:
        async with Session(config, only=set()):
            async with Session(config, only=set()):
                pass
            waiter = asyncio.create_task(waiting_here())
            await asyncio.sleep(0)
            assert signal.getsignal(signal.SIGUSR2) != signal.SIG_DFL  # (its default action would end pytest)
            os.kill(os.getpid(), signal.SIGUSR2)
            await asyncio.sleep(0.2)
            waiter.cancel()
        assert signal.getsignal(signal.SIGUSR2) == signal.SIG_DFL

    asyncio.run(run())
    assert "waiting_here" in capfd.readouterr().err
