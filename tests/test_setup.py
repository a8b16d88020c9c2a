"""scripts/setup.sh: a pip install that fails must fail the set-up, loudly, and record nothing.

Each test runs a copy of the real script in a temporary checkout whose ``.venv`` is built
here, never the project's own. pip is real and offline (no index, no config, no cache), so
what it cannot find is a real pip failure: nothing is mocked. The temporary venv has no pip
of its own (building one with ensurepip costs ~5 s); a ``.pth`` file lends it the running
environment's packages read-only (the venv's ``sys.prefix`` is the temporary one, so pip
installs and uninstalls only there). The apt part is skipped because its packages are
present; ``apt-get`` and ``sudo`` on the PATH refuse to run, so a missing package fails the
test instead of touching the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "scripts" / "setup.sh"
STAMP = ".venv/.scenevoice-installed"
NO_SUCH = "scenevoice-no-such-requirement==0.0.0"

PROBE_PYPROJECT = f"""\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "scenevoice-setup-probe"
version = "0.0.0"
dependencies = ["{NO_SUCH}"]

[project.optional-dependencies]
test = []

[tool.setuptools]
py-modules = []
"""


def _apt_packages() -> list[str]:
    match = re.search(r"^apt_packages=\(([^)]*)\)", SETUP.read_text(), re.MULTILINE)
    assert match, "scripts/setup.sh no longer lists apt_packages=(...)"
    return match.group(1).split()


def _checkout(tmp_path: Path, lend: list[Path]) -> tuple[Path, dict[str, str]]:
    """A temporary checkout with a copy of setup.sh, the probe project and a pip-less venv
    that sees the ``lend`` folders through a .pth file; returns (root, environment)."""
    missing = [
        p
        for p in _apt_packages()
        if "install ok installed"
        not in subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], check=False, capture_output=True, text=True
        ).stdout
    ]
    if missing:
        pytest.fail(f"run scripts/setup.sh first: apt packages {missing} are missing")
    (tmp_path / "scripts").mkdir()
    shutil.copy2(SETUP, tmp_path / "scripts" / "setup.sh")
    (tmp_path / "pyproject.toml").write_text(PROBE_PYPROJECT)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = tmp_path / ".venv" / "lib" / version / "site-packages"
    (site / "_lent.pth").write_text("".join(f"import site; site.addsitedir({str(p)!r})\n" for p in lend))

    guard = tmp_path / "guard"
    guard.mkdir()
    for tool in ("apt-get", "sudo"):
        (guard / tool).write_text(f"#!/bin/sh\necho 'test_setup: {tool} must not run here' >&2\nexit 97\n")
        (guard / tool).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        PATH=f"{guard}:{env['PATH']}",
        PYTHON=sys.executable,
        PYTHONDONTWRITEBYTECODE="1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INDEX="1",
        PIP_NO_CACHE_DIR="1",
        PIP_NO_BUILD_ISOLATION="0",
    )  # "0" turns isolation off (pip's inverted --no-* switches)
    return tmp_path, env


def _run_setup(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(root / "scripts" / "setup.sh"), "--test"],
        cwd=root,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_dependency_pip_cannot_find_fails_the_setup_and_leaves_no_stamp(tmp_path):
    """torch, bark and the rest are lent, so every step before and after ``pip install -e``
    would pass and the project would import: only the probe's missing requirement fails."""
    root, env = _checkout(tmp_path, [Path(sysconfig.get_paths()["purelib"])])
    (root / STAMP).write_text("an older install\n")  # a stamp from before must not survive either
    result = _run_setup(root, env)
    assert result.returncode == 1, result.stderr
    assert f"No matching distribution found for {NO_SUCH}" in result.stderr  # pip's own error, shown
    assert "setup: pip install -e .[test] failed" in result.stderr
    assert "preparing the models" not in result.stderr  # stopped at the failed step
    assert not (root / STAMP).exists() and not (root / f"{STAMP}.tmp").exists()


@pytest.mark.slow
def test_the_first_failing_step_stops_the_setup(tmp_path):
    """Only pip is lent: upgrading pip passes (nothing newer to find), torch cannot be found."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    only_pip = tmp_path / "only-pip"
    only_pip.mkdir()
    for entry in [purelib / "pip", *purelib.glob("pip-*.dist-info")]:
        (only_pip / entry.name).symlink_to(entry)
    (tmp_path / "checkout").mkdir()
    root, env = _checkout(tmp_path / "checkout", [only_pip])
    result = _run_setup(root, env)
    assert result.returncode == 1, result.stderr
    assert "No matching distribution found for torch==2.13.0" in result.stderr
    assert "setup: pip install torch==2.13.0 failed" in result.stderr
    assert "scenevoice-setup-probe" not in result.stderr and NO_SUCH not in result.stderr  # -e . never ran
    assert not (root / STAMP).exists()
