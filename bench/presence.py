"""How soon a hub marks a vanished satellite offline, through a real mosquitto.

Run:  .venv/bin/python -m bench.presence [--keepalive-s 10] [--trials 3]

A satellite (a process with the bridge only, ``--role satellite``) connects; the hub (a
session in this process) sees it online; then the satellite either dies (SIGKILL: its
socket closes, the broker publishes its last will at once) or goes silent (SIGSTOP: its
socket stays open, as a machine that loses power or network; the broker waits out the
keep-alive, 1.5 × ``keepalive_s`` after the last packet it got, and looks every few
seconds). Printed: seconds from the vanishing to ``offline`` in the hub's bridge, per trial.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.config import load_config
from agent.paths import PROJECT_ROOT
from agent.session import Session
from bench.mosquitto import Broker, bridge_overrides

SATELLITE = """import asyncio, sys
from agent.config import load_config
from agent.session import Session
async def main():
    async with Session(load_config(None, sys.argv[1:], role="satellite"), only={"bridge"}):
        await asyncio.sleep(600)
asyncio.run(main())
"""


async def _vanish(broker: Broker, script: Path, keepalive_s: int, sig: int) -> float:
    """Seconds from sending ``sig`` to the satellite until the hub marks it offline."""
    sets = [
        *bridge_overrides(broker, "hall", ["turn"], [], "SV_BENCH_PRESENCE_HALL"),
        f"modules.bridge.keepalive_s={keepalive_s}",
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    satellite = subprocess.Popen([sys.executable, str(script), *sets], env=env)
    hub_sets = [*bridge_overrides(broker, "hub", [], ["turn"], "SV_BENCH_PRESENCE_HUB")]
    try:
        async with Session(load_config(None, hub_sets, role="hub"), only={"bridge"}) as hub:
            bridge = hub.modules["bridge"]
            while not bridge.peers.online("hall"):
                await asyncio.sleep(0.02)
            await asyncio.sleep(1.0)
            satellite.send_signal(sig)
            gone = time.monotonic()
            while bridge.status()["sites"]["hall"]["status"] != "offline":
                await asyncio.sleep(0.02)
            return time.monotonic() - gone
    finally:
        satellite.kill()
        satellite.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keepalive-s", type=int, default=10)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    accounts = {"hall": secrets.token_hex(8), "hub": secrets.token_hex(8)}
    for site, password in accounts.items():
        os.environ[f"SV_BENCH_PRESENCE_{site.upper()}"] = password
    with tempfile.TemporaryDirectory(prefix="scenevoice-presence-") as tmp:
        script = Path(tmp) / "satellite.py"
        script.write_text(SATELLITE)
        with Broker(Path(tmp) / "broker", accounts) as broker:
            for name, sig in (("dies (SIGKILL)", signal.SIGKILL), ("goes silent (SIGSTOP)", signal.SIGSTOP)):
                times = [asyncio.run(_vanish(broker, script, args.keepalive_s, sig)) for _ in range(args.trials)]
                said = ", ".join(f"{t:.2f}" for t in times)
                print(f"keepalive {args.keepalive_s} s: a satellite that {name} is offline after {said} s", flush=True)


if __name__ == "__main__":
    main()
